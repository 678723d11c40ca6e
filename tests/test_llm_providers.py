"""Every provider config, pointed at a loopback server that accepts only that provider's key,
scores exactly the guesses it is served; without its key it stops in one line naming the
variable. The servers behind OpenAI's reasoning models behave like them (tests.fake_reasoning)."""

from __future__ import annotations

import csv
import functools
from contextlib import ExitStack
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from harness import results
from harness.data import load_dataset
from harness.errors import PricebenchError
from harness.paths import CONF_DIR
from tests.conftest import DATA_DIR, REFERENCE_DIR, run_cli, start_forked
from tests.fake_reasoning import reasoning_model
from tests.openai_server import FakeOpenAI, recorded_replies

N = 50
OPENAI = "OPENAI_API_KEY"
PROVIDERS = {  # config -> (its key variable, the reasoning family its server acts as, or None)
    "gpt-5.1": (OPENAI, "gpt-5.1"),
    "gpt-5-mini": (OPENAI, "gpt-5"),
    "gpt-5-nano": (OPENAI, "gpt-5"),
    "gpt-4.1-nano": (OPENAI, None),
    "anthropic": ("ANTHROPIC_API_KEY", None),
    "gemini": ("GEMINI_API_KEY", None),
    "xai": ("XAI_API_KEY", None),
    "deepseek": ("DEEPSEEK_API_KEY", None),
    "openrouter": ("OPENROUTER_API_KEY", "gpt-5.2"),
    "azure": ("AZURE_OPENAI_API_KEY", None),
}
OTHER_VARIABLES = sorted({v for v, _ in PROVIDERS.values()} | {"AZURE_OPENAI_ENDPOINT"})


@functools.cache
def composed(name: str) -> DictConfig:
    """``predictor=NAME`` composed once (interpolations such as ${oc.env:...} stay unresolved)."""
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("config", overrides=[f"predictor={name}"])


def predictor_for(name: str):
    return instantiate(composed(name).predictor, _convert_="all")


def served_prompts(name: str) -> dict[str, int]:
    """The user message the config sends for each item, to the item's index."""
    predictor = predictor_for(name)
    items = load_dataset(str(DATA_DIR), need_train=False).test[:N]
    prompts = {}
    for item in items:
        body = predictor.request_body(item, predictor.model)
        user = next(m["content"] for m in body["messages"] if m["role"] == "user")
        prompts[user] = item.index
    return prompts


def reference_guesses() -> dict[int, float]:
    with open(REFERENCE_DIR / "gpt-4o-mini.csv", newline="") as f:
        return {int(row["index"]): float(row["guess"]) for row in csv.DictReader(f)}


def clean_env(**values: str) -> dict[str, str]:
    """No provider variable but those given (empty means unset)."""
    return {**dict.fromkeys(OTHER_VARIABLES, ""), **values}


def loopback_configs(conf: Path, urls: dict[str, str]) -> str:
    """A config ``loopback-NAME`` for each config NAME: the config itself, sent to ``urls[NAME]``;
    returns the override that adds them to Hydra's search path."""
    for name, url in urls.items():
        path = conf / "predictor" / f"loopback-{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"defaults:\n  - {name}\n  - _self_\nbase_url: {url}\n")
    return f"hydra.searchpath=[file://{conf}]"


@pytest.mark.slow
def test_every_provider_config_scores_the_served_guesses_with_its_own_key(tmp_path) -> None:
    """One multirun over every config (one process instead of one per config): each job talks
    to its own server, which accepts only the key that config must read, while every other
    provider variable holds another key; without its key, each stops naming its variable."""
    keys = {variable: f"{variable.lower()}-only-0123456789" for variable, _ in PROVIDERS.values()}
    with ExitStack() as stack:
        servers = {}
        for name, (variable, family) in PROVIDERS.items():
            served = recorded_replies(REFERENCE_DIR / "gpt-4o-mini.csv", served_prompts(name))
            chat = reasoning_model(served, family) if family else served
            servers[name] = stack.enter_context(FakeOpenAI(chat=chat, api_key=keys[variable]))
        search = loopback_configs(tmp_path / "conf", {n: s.base_url for n, s in servers.items()})

        def sweep(names: list[str], out: str) -> list[str]:
            """A multirun of ``names``, its cache, results and sweep folders named ``out``."""
            return [
                "-m", search, "predictor=" + ",".join(f"loopback-{n}" for n in names),
                f"data.size={N}", "quiet=true", "chart=false", f"cache.dir={tmp_path}/{out}",
                f"results.dir={tmp_path}/{out}", f"hydra.sweep.dir={tmp_path}/sweep-{out}",
            ]  # fmt: skip

        # only OPENAI_API_KEY set: one line naming what each other config needs (its own cache:
        # the runs with keys would cache answers that need no key at all); run beside the others
        others = sorted(name for name, (variable, _) in PROVIDERS.items() if variable != OPENAI)
        bare_env = clean_env(**{OPENAI: "sk-" + "not-this-providers-key-000"})
        bare = start_forked(*sweep(others, "bare"), cwd=tmp_path, env=bare_env)
        try:
            proc = run_cli(*sweep(sorted(PROVIDERS), "r"), cwd=tmp_path, env=clean_env(**keys))
            bare_out, bare_err = bare.communicate(timeout=300)
        finally:
            if bare.poll() is None:
                bare.kill()
        assert proc.returncode == 0, proc.stderr
        for name, server in servers.items():
            assert {r["status"] for r in server.requests} == {200}, name  # its key, none refused
            assert len(server.chat_requests()) == N, name  # none from the sweep without keys
        assert bare.returncode != 0 and "Traceback" not in bare_err
        assert bare_err.splitlines() == [
            f"pricebench: error: {variable} is not set: export {variable}=... (keys are read "
            "only from the environment), or name another variable with api_key_env"
            for variable in (PROVIDERS[name][0] for name in others)
        ], bare_out
    runs = {
        results.read_metrics(run)["predictor"]: run for run in results.finished_runs(tmp_path / "r")
    }
    assert sorted(runs) == sorted(f"loopback-{name}" for name in PROVIDERS)
    expected = {i: g for i, g in reference_guesses().items() if i < N}
    for name in PROVIDERS:
        run = runs[f"loopback-{name}"]
        guesses = {r["index"]: r["guess"] for r in results.read_predictions(run)}
        assert guesses == expected, name
        assert results.read_metrics(run)["failed"] == 0, name


def test_azure_builds_its_base_url_from_the_endpoint_variable(monkeypatch) -> None:
    predictor = predictor_for("azure")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://acme.openai.azure.com/")
    assert predictor.resolved_base_url == "https://acme.openai.azure.com/openai/v1"
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://acme.openai.azure.com/openai/v1/")
    assert predictor.resolved_base_url == "https://acme.openai.azure.com/openai/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # never another's endpoint
    assert predictor.resolved_base_url == "https://acme.openai.azure.com/openai/v1"
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    with pytest.raises(PricebenchError, match=r"^AZURE_OPENAI_ENDPOINT is not set: export"):
        _ = predictor.resolved_base_url


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_no_provider_config_follows_another_providers_variables(monkeypatch, name) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://acme.openai.azure.com")
    predictor = predictor_for(name)
    variable, _ = PROVIDERS[name]
    assert predictor.api_key_env == variable
    assert "127.0.0.1" not in predictor.resolved_base_url
    assert predictor.input_price > 0 and predictor.output_price > 0
