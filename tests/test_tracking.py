"""Real offline W&B runs, read back with W&B's own reader (`wandb leet inspect`)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from harness import results
from harness.metrics import METRICS
from harness.secrets import REDACTED, redact
from harness.tracking import resolve_mode
from tests.conftest import REFERENCE_DIR, only_run, read_json, run_cli
from tests.test_sweeps import sweep_dir

WANDB = str(Path(sys.executable).parent / "wandb")
SECRET = "sk-" + "proj-THISISNOTAREALKEY1234567890"  # fake, built so no scanner flags it


def wandb_runs(cwd: Path) -> list[Path]:
    return sorted((cwd / "wandb").glob("offline-run-*"))


def inspect_summary(run: Path) -> dict:
    out = subprocess.run(
        [WANDB, "leet", "inspect", "--summary", "--json", str(run)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def inspect_records(run: Path) -> list[dict]:
    out = subprocess.run(
        [WANDB, "leet", "inspect", "--json", str(run)], capture_output=True, text=True, check=True
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def run_record(run: Path) -> dict:
    return next(r["run"] for r in inspect_records(run) if r.get("type") == "run")


@pytest.mark.slow
def test_an_offline_run_holds_exactly_what_the_results_store_holds(tmp_path: Path) -> None:
    proc = run_cli(
        "predictor=replay", f"predictor.path={REFERENCE_DIR / 'gpt-4o-mini.csv'}",
        f"results.dir={tmp_path}/r", "quiet=true", f"+extra.api_key={SECRET}",
        "+extra.note=key is ${oc.env:OPENAI_API_KEY}",
        cwd=tmp_path, tracker="wandb", env={"OPENAI_API_KEY": SECRET},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run,) = wandb_runs(tmp_path)
    assert f"wandb: offline run saved in {run}; upload it with: wandb sync {run}" in proc.stdout
    folder = only_run(tmp_path / "r")
    metrics = read_json(folder / "metrics.json")
    seen = inspect_summary(run)

    assert seen["state"] == "finished" and seen["exit_code"] == 0
    assert seen["project"] == "pricebench" and seen["name"] == "replay"
    summary = seen["summary"]
    for key in (*METRICS, "n", "clipped"):  # every metric of the registry
        assert summary[key] == metrics[key], key
    assert summary["summary_line"] == "gpt-4o-mini Error=$79.58 RMSLE=0.59 Hits=52.0%"

    config = seen["config"]
    assert config["predictor_name"] == "replay"
    assert config["predictor"]["_target_"] == "predictors.replay.ReplayPricer"
    assert config["fingerprint"] == metrics["fingerprint"] and config["canonical"] is True
    assert config["extra"]["api_key"] == REDACTED

    table = json.loads((run / "files" / summary["predictions"]["path"]).read_text())
    assert summary["predictions"]["nrows"] == 250 and len(table["data"]) == 250
    stored = results.read_predictions(folder)
    columns = table["columns"]
    assert columns[:3] == ["index", "title", "truth"]
    for row, record in zip(table["data"], stored, strict=True):
        assert {c: v for c, v in zip(columns, row, strict=True)} == {c: record[c] for c in columns}

    assert summary["chart"]["_type"] == "image-file"
    assert "truth_vs_guess_table" in summary and "error_by_price_band_table" in summary

    records = inspect_records(run)
    (evaluation,) = [
        r["artifact"] for r in records
        if r.get("type") == "artifact" and r["artifact"]["type"] == "evaluation"
    ]  # fmt: skip
    assert json.loads(evaluation["metadata"])["fingerprint"] == metrics["fingerprint"]
    assert {c["path"] for c in evaluation["manifest"]["contents"]} >= {
        "metrics.json", "predictions.jsonl", "config.yaml", "chart.png",
    }  # fmt: skip
    assert run_record(run)["job_type"] == "eval"

    for path in [*run.rglob("*"), *folder.rglob("*")]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"the key leaked into {path}"
    assert SECRET not in proc.stdout + proc.stderr
    assert read_json(folder / "wandb.json")["run_id"] == seen["run_id"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_when_wandb_cannot_start_the_results_are_complete_and_the_exit_is_0(tmp_path) -> None:
    proc = run_cli(
        "predictor=random", "quiet=true", f"results.dir={tmp_path}/r",
        "tracker.mode=online", "tracker.init_timeout=3",
        cwd=tmp_path, tracker="wandb",
        env={"WANDB_API_KEY": "local-" + "0" * 40, "WANDB_BASE_URL": f"http://127.0.0.1:{_closed_port()}"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "random Error=$340.74 RMSLE=1.72 Hits=11.6%" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "W&B did not start" in warnings[0], proc.stderr
    assert "Traceback" not in proc.stderr
    folder = only_run(tmp_path / "r")
    assert read_json(folder / "metrics.json")["n"] == 250
    assert len(results.read_predictions(folder)) == 250
    assert (folder / "chart.png").is_file()


@pytest.mark.slow
def test_online_without_a_key_is_one_warning(tmp_path: Path) -> None:
    proc = run_cli("predictor=random", "quiet=true", f"results.dir={tmp_path}/r",
                   "tracker.mode=online", cwd=tmp_path, tracker="wandb")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "W&B did not start (UsageError" in proc.stderr
    assert read_json(only_run(tmp_path / "r") / "metrics.json")["n"] == 250


@pytest.mark.slow
def test_a_two_job_multirun_gives_two_finished_runs_in_one_group(tmp_path: Path) -> None:
    proc = run_cli("-m", "predictor=random,constant", "quiet=true",
                   f"results.dir={tmp_path}/r", cwd=tmp_path, tracker="wandb")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    runs = wandb_runs(tmp_path)
    assert len(runs) == 2
    seen = [inspect_summary(run) for run in runs]
    assert all(s["state"] == "finished" for s in seen)
    assert len({s["run_id"] for s in seen}) == 2
    assert sorted(s["name"] for s in seen) == ["constant-1", "random-0"]
    # one group, named after the sweep (its folder: multirun/DATE/TIME)
    groups = {run_record(run).get("run_group") for run in runs}
    assert groups == {"_".join(sweep_dir(tmp_path).parts[-2:])}


@pytest.mark.slow
def test_a_failed_evaluation_opens_no_run(tmp_path: Path) -> None:
    proc = run_cli("predictor=replay", "predictor.path=/missing.csv", cwd=tmp_path, tracker="wandb")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert wandb_runs(tmp_path) == []


def test_default_tracker_is_wandb() -> None:
    from hydra import compose, initialize_config_dir

    from harness.paths import CONF_DIR

    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        cfg = compose("config")
    assert cfg.tracker._target_ == "harness.tracking.WandbTracker"
    assert cfg.tracker.project == "pricebench" and cfg.tracker.job_type == "eval"


def test_mode_follows_config_then_environment_then_the_key(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    assert resolve_mode(None) == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_mode(None) == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode(None) == "disabled"
    assert resolve_mode("offline") == "offline"
    with pytest.raises(ValueError, match="tracker.mode must be one of"):
        resolve_mode("sometimes")


def test_redaction(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "abcdefgh12345678")
    config = {
        "predictor": {"api_key": "x", "api_key_env": "OPENAI_API_KEY", "model": "gpt-4o-mini"},
        "headers": {"Authorization": "Bearer y"},
        "note": "the key abcdefgh12345678 and sk-" + "a" * 30,
        "list": [{"token": 1}],
    }
    assert redact(config) == {
        "predictor": {"api_key": REDACTED, "api_key_env": "OPENAI_API_KEY", "model": "gpt-4o-mini"},
        "headers": {"Authorization": REDACTED},
        "note": f"the key {REDACTED} and {REDACTED}",
        "list": [{"token": REDACTED}],
    }


class _InterruptedWorker:
    """A W&B worker that Ctrl-C interrupts while pricebench waits for it to log the run."""

    returncode = None
    killed = False

    def communicate(self, text: str, timeout: float) -> tuple[str, str]:
        raise KeyboardInterrupt

    def poll(self) -> None:
        return None

    def kill(self) -> None:
        self.killed = True

    def wait(self, timeout: float | None = None) -> int:
        return -9


def test_ctrl_c_while_logging_stops_the_worker_and_says_the_results_are_stored(
    tmp_path: Path,
) -> None:
    from harness.tracking import TrackingInterrupted, WandbTracker

    tracker = WandbTracker(mode="offline")
    worker = tracker.worker_ = _InterruptedWorker()  # type: ignore[assignment]
    metrics = {"predictor": "p", "fingerprint": "f", "canonical": True}
    with pytest.raises(TrackingInterrupted) as caught:
        tracker.log_run(tmp_path, metrics, [], {}, name="p")
    assert isinstance(caught.value, KeyboardInterrupt)  # still an interrupt to whoever catches it
    assert caught.value.run_dir == tmp_path and worker.killed
    assert str(caught.value) == (
        f"interrupted while logging the run to W&B; its results in {tmp_path} are complete"
    )
