"""Every provider config, pointed at a loopback server that accepts only that provider's key,
scores exactly the guesses it is served; without its key it stops in one line naming the
variable. The servers behind OpenAI's reasoning models behave like them (tests.fake_reasoning)."""

from __future__ import annotations

import csv

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from harness import results
from harness.data import load_dataset
from harness.errors import PricebenchError
from harness.paths import CONF_DIR
from tests.conftest import DATA_DIR, REFERENCE_DIR, run_cli
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


def predictor_for(name: str, *overrides: str):
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"predictor={name}", *overrides])
    return instantiate(cfg.predictor, _convert_="all")


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


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_provider_config_scores_the_served_guesses_with_its_own_key(tmp_path, name) -> None:
    variable, family = PROVIDERS[name]
    key = f"{name}-only-key-0123456789"
    served = recorded_replies(REFERENCE_DIR / "gpt-4o-mini.csv", served_prompts(name))
    chat = reasoning_model(served, family) if family else served
    args = (
        f"predictor={name}", f"data.size={N}", "quiet=true", f"cache.dir={tmp_path}/cache",
        f"results.dir={tmp_path}/r",
    )  # fmt: skip
    with FakeOpenAI(chat=chat, api_key=key) as server:
        env = clean_env(**{OPENAI: "sk-" + "not-this-providers-key-000000", variable: key})
        proc = run_cli(*args, f"predictor.base_url={server.base_url}", cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        assert {r["status"] for r in server.requests} == {200}  # its key, nothing refused
        assert len(server.chat_requests()) == N
        if variable != OPENAI:  # only OPENAI_API_KEY set: one line naming what it needs
            bare = run_cli(  # a fresh cache: the cached run above needs no key at all
                *args, f"predictor.base_url={server.base_url}", f"cache.dir={tmp_path}/fresh",
                cwd=tmp_path,
                env=clean_env(**{OPENAI: "sk-" + "not-this-providers-key-000000"}),
            )  # fmt: skip
            assert bare.returncode == 2 and "Traceback" not in bare.stderr
            assert bare.stderr.strip() == (
                f"pricebench: error: {variable} is not set: export {variable}=... (keys are read "
                "only from the environment), or name another variable with api_key_env"
            )
            assert len(server.chat_requests()) == N
    run = results.finished_runs(tmp_path / "r")[-1]
    guesses = {r["index"]: r["guess"] for r in results.read_predictions(run)}
    assert guesses == {i: g for i, g in reference_guesses().items() if i < N}
    assert results.read_metrics(run)["failed"] == 0


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
