"""Where fine-tuning jobs run: OpenAI by default, any server with the same job API (``base_url``,
``api_key_env``), the ``provider=azure`` preset; and a platform that refuses to create jobs (HTTP
403, as OpenAI answers organisations its fine-tuning wind-down has reached) ends in one line
before anything is uploaded or a job created."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from finetune import jobs
from finetune.cli import resolve_base_url
from harness.errors import PricebenchError
from tests.conftest import DATA_DIR
from tests.forked import run_module
from tests.openai_server import FakeOpenAI, Reply

KEY = "sk-" + "test-ENDPOINTSKEY0000000000000000"  # fake, built so no scanner flags it
AZURE_KEY = "azure-" + "test-key-0000000000000000"
# What a refusing platform says: OpenAI's error body shape; the message stands in for OpenAI's.
REFUSAL = "Fine-tuning is not available for this organization."
DATES = ("2026-05-07", "2026-07-02", "2027-01-06")


def _refusal_body() -> dict[str, Any]:
    error = {"message": REFUSAL, "type": "invalid_request_error", "param": None, "code": None}
    return {"error": error}


class RefusingOpenAI(FakeOpenAI):
    """Every ``POST /v1/fine_tuning/jobs`` (a real creation or a check) answers 403."""

    def _route(self, method: str, path: str, query: dict, body: Any, raw: bytes, ctype: str):
        if method == "POST" and path.rstrip("/") == "/v1/fine_tuning/jobs":
            return Reply(403, json_body=_refusal_body())
        return super()._route(method, path, query, body, raw, ctype)


class RefusingUploadedFiles(FakeOpenAI):
    """Checks the training file before permission: a job naming a file it does not hold gets
    the usual 400, one naming an uploaded file gets 403 (so only the real creation reveals it)."""

    def _create_job(self, body: Any) -> Reply:
        if isinstance(body, dict) and body.get("training_file") in self.files:
            return Reply(403, json_body=_refusal_body())
        return super()._create_job(body)


class AzureOpenAI(FakeOpenAI):
    """The same API under ``/openai/v1`` (Azure OpenAI's v1 endpoint); anything else is 404."""

    def _route(self, method: str, path: str, query: dict, body: Any, raw: bytes, ctype: str):
        if not path.startswith("/openai/v1/"):
            return Reply(404, text=f"no route {path}")
        return super()._route(method, path.removeprefix("/openai"), query, body, raw, ctype)

    @property
    def endpoint(self) -> str:
        return self.base_url.removesuffix("/v1")


def finetune(tmp_path: Path, *args: str, env: dict[str, str] | None = None):
    full_env = {
        **os.environ,
        "PRICEBENCH_DATA": str(DATA_DIR),
        "OPENAI_API_KEY": KEY,
        "WANDB_DIR": str(tmp_path),
        **(env or {}),
    }
    for name in ("WANDB_MODE", "WANDB_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"):
        if name not in (env or {}):
            full_env.pop(name, None)
    argv = [f"results.dir={tmp_path}/results", "poll_seconds=0.01", "wandb.log=false", *args]
    return run_module("finetune.cli", argv, tmp_path, full_env)


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def _posts(server: FakeOpenAI, suffix: str) -> list[dict]:
    return [r for r in server.requests if r["method"] == "POST" and r["path"].endswith(suffix)]


def _assert_says_what_still_works(line: str) -> None:
    for date in DATES:
        assert date in line
    assert "existing fine-tuned models answer until their base model is retired" in line
    assert "pricebench predictor=fine_tuned predictor.job_id=" in line
    replay = DATA_DIR / "reference" / "gpt-4o-mini-fine-tuned.csv"
    assert f"pricebench predictor=replay predictor.path={replay}" in line
    assert "predictor=fine_tuned predictor.model=NAME predictor.base_url=URL" in line
    assert "provider=azure" in line


@pytest.mark.slow
def test_a_refusal_ends_in_one_line_before_anything_is_uploaded(tmp_path: Path) -> None:
    with RefusingOpenAI() as server:
        host = server.base_url.split("//")[1].split("/")[0]
        proc = finetune(tmp_path, f"base_url={server.base_url}")
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert line.startswith(
        f"pricebench-finetune: error: {host} refused to create fine-tuning jobs "
        f"(HTTP 403: {REFUSAL}); OpenAI is winding down self-serve fine-tuning"
    )
    _assert_says_what_still_works(line)
    assert line.endswith("nothing was uploaded and no job created")
    # the check was the only call: nothing uploaded, no job, nothing in the registry
    assert _posts(server, "/files") == [] and server.files == {}
    assert server.jobs == {} and server.job_requests == []
    assert [r["path"] for r in server.requests] == ["/v1/fine_tuning/jobs"]
    assert not (tmp_path / "results" / "finetunes.jsonl").exists()
    state = json.loads((tmp_path / "results" / "finetune" / "pricer" / "state.json").read_text())
    assert state["training_file"] is None and state["job_id"] is None


@pytest.mark.slow
def test_stage_upload_alone_checks_before_uploading(tmp_path: Path) -> None:
    assert finetune(tmp_path, "stage=prepare").returncode == 0
    with RefusingOpenAI() as server:
        proc = finetune(tmp_path, "stage=upload", f"base_url={server.base_url}")
    assert proc.returncode == 2 and "HTTP 403" in _one_line(proc.stderr)
    assert server.files == {} and server.jobs == {}


@pytest.mark.slow
def test_a_refusal_only_at_creation_ends_in_the_same_line_and_no_job(tmp_path: Path) -> None:
    with RefusingUploadedFiles() as server:
        proc = finetune(tmp_path, f"base_url={server.base_url}")
    assert proc.returncode == 2
    line = _one_line(proc.stderr)
    assert f"refused to create fine-tuning jobs (HTTP 403: {REFUSAL})" in line
    _assert_says_what_still_works(line)
    assert line.endswith("the uploaded files cost nothing; no job was created")
    assert len(_posts(server, "/files")) == 2  # uploaded (free), then refused: nothing paid for
    assert server.jobs == {} and server.job_requests == []
    assert not (tmp_path / "results" / "finetunes.jsonl").exists()


@pytest.mark.slow
def test_a_server_that_accepts_runs_to_the_end_after_the_check(tmp_path: Path) -> None:
    with FakeOpenAI() as server:
        proc = finetune(tmp_path, f"base_url={server.base_url}")
    assert proc.returncode == 0, proc.stderr
    check, *rest = _posts(server, "/fine_tuning/jobs")
    # the check names a file nobody uploaded, so it can create no job; then the real creation
    assert check["body"]["training_file"] == jobs.ACCESS_CHECK_FILE and check["status"] == 400
    assert [r["status"] for r in rest] == [200] and len(server.jobs) == 1
    first_upload = next(i for i, r in enumerate(server.requests) if r["path"] == "/v1/files")
    assert server.requests.index(check) < first_upload
    assert "fine-tuned model: ft:gpt-4o-mini-2024-07-18:org-test:pricer:" in proc.stdout


@pytest.mark.slow
def test_any_endpoint_with_its_own_key_variable(tmp_path: Path) -> None:
    other_key = "sk-" + "test-OTHERENDPOINTKEY00000000000"
    with FakeOpenAI(api_key=other_key) as server:
        proc = finetune(
            tmp_path, f"base_url={server.base_url}", "api_key_env=MY_FT_KEY",
            env={"MY_FT_KEY": other_key},
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert {r["status"] for r in server.requests} <= {200, 400}  # 400: the check's missing file
    assert {r["headers"]["authorization"] for r in server.requests} == {f"Bearer {other_key}"}
    assert len(server.jobs) == 1


@pytest.mark.slow
def test_the_azure_preset_builds_the_base_url_from_the_endpoint_variable(tmp_path: Path) -> None:
    with AzureOpenAI(api_key=AZURE_KEY) as server:
        env = {
            "AZURE_OPENAI_ENDPOINT": server.endpoint + "/",
            "AZURE_OPENAI_API_KEY": AZURE_KEY,
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # the OpenAI preset's; not used here
            "OPENAI_API_KEY": "",
        }
        proc = finetune(tmp_path, "provider=azure", env=env)
        endpoint = server.endpoint
    assert proc.returncode == 0, proc.stderr
    paths = [r["path"] for r in server.requests]
    assert paths and all(p.startswith("/openai/v1/") for p in paths), paths
    assert {r["headers"]["authorization"] for r in server.requests} == {f"Bearer {AZURE_KEY}"}
    (request,) = server.job_requests
    assert "integrations" not in request  # OpenAI's W&B integration is not Azure's
    assert request["model"] == "gpt-4o-mini-2024-07-18" and request["suffix"] == "pricer"
    (job,) = server.jobs.values()
    assert job["status"] == "succeeded"
    assert "deploy it in your Azure OpenAI resource" in proc.stdout
    assert "pricebench predictor=azure predictor.model=DEPLOYMENT" in proc.stdout
    (record,) = [json.loads(x) for x in (tmp_path / "results" / "finetunes.jsonl").open()]
    assert record["base_url"] == endpoint + "/openai/v1"


def _cfg(**settings: Any) -> Any:
    from hydra import compose, initialize_config_dir

    from harness.paths import CONF_DIR

    overrides = [f"{k}={v}" for k, v in settings.items()]
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose("finetune", overrides=overrides)


def test_base_urls_of_the_presets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/")
    assert resolve_base_url(_cfg()) is None  # the SDK's default: OpenAI
    openai = _cfg()
    assert (openai.api_key_env, openai.wandb.integration) == ("OPENAI_API_KEY", True)
    azure = _cfg(provider="azure")
    assert resolve_base_url(azure) == "https://res.openai.azure.com/openai/v1"
    assert (azure.api_key_env, azure.wandb.integration) == ("AZURE_OPENAI_API_KEY", False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com/openai/v1/")
    assert resolve_base_url(azure) == "https://res.openai.azure.com/openai/v1"
    assert resolve_base_url(_cfg(provider="azure", base_url="http://h/v1/")) == "http://h/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    assert resolve_base_url(_cfg()) == "http://127.0.0.1:1/v1"
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    with pytest.raises(PricebenchError, match=r"^AZURE_OPENAI_ENDPOINT is not set: export "):
        resolve_base_url(azure)


def test_the_refusal_names_what_the_platform_said_in_one_line() -> None:
    import httpx2 as httpx  # the SDK's own transport
    import openai

    request = httpx.Request("POST", "https://api.openai.com/v1/fine_tuning/jobs")
    body = {"error": {"message": "No\nfine-tuning  here.", "type": "x", "param": None,
                      "code": "fine_tuning_unavailable"}}  # fmt: skip
    response = httpx.Response(403, json=body, request=request)
    exc = openai.PermissionDeniedError("Error code: 403", response=response, body=body["error"])
    error = jobs.refusal(exc, "https://api.openai.com/v1", "/data/ref.csv", uploaded=False)
    text = str(error)
    assert "\n" not in text
    assert text.startswith(
        "api.openai.com refused to create fine-tuning jobs "
        "(HTTP 403: No fine-tuning here. [fine_tuning_unavailable]); "
    )
    assert "predictor.path=/data/ref.csv" in text
