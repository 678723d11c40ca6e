"""W&B lineage, read back from real offline runs with W&B's own reader (`wandb leet inspect`):
the test set as one dataset artifact every evaluation uses, one evaluation artifact per predictor
configuration, the git commit, and the link from a fine-tuned model to its fine-tuning run.

Offline, W&B assigns no versions (the server does, on `wandb sync`: a new digest under an
existing name becomes the next version, v0, v1, ...; the same digest makes no new version). So
"two versions of one artifact" is read back here as: the same artifact name, two different
digests; and "the same dataset" as: the same name and the same digest, marked to be used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from finetune.jobs import wandb_run_id
from harness import results, wandb_worker
from harness.secrets import redact
from harness.wandb_worker import config_hash, lineage_config
from tests.conftest import REFERENCE_DIR, read_json, run_cli, run_dirs
from tests.test_tracking import SECRET, inspect_records, inspect_summary, wandb_runs


def artifacts_of(run: Path) -> dict[str, dict[str, Any]]:
    """The run's dataset and evaluation artifacts by type, as W&B recorded them."""
    found = [r["artifact"] for r in inspect_records(run) if r.get("type") == "artifact"]
    by_type = {a["type"]: a for a in found if a["type"] in ("dataset", "evaluation")}
    assert len(by_type) == 2 and len(found) == len(by_type) + 2, found  # + the two run tables
    return by_type


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """gpt-4o-mini's recording replayed twice (one configuration), then the human one (another)."""
    cwd = tmp_path_factory.mktemp("lineage")
    for name in ("gpt-4o-mini", "gpt-4o-mini", "human"):
        proc = run_cli(
            "predictor=replay", f"predictor.path={REFERENCE_DIR / (name + '.csv')}",
            f"results.dir={cwd}/r", "quiet=true", f"+extra.api_key={SECRET}",
            cwd=cwd, tracker="wandb", env={"OPENAI_API_KEY": SECRET},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    runs = wandb_runs(cwd)
    assert len(runs) == 3
    return cwd, sorted(runs, key=lambda run: inspect_summary(run)["config"]["predictor"]["path"])


@pytest.mark.slow
def test_two_evaluations_of_one_configuration_are_versions_of_one_artifact(three_runs) -> None:
    cwd, (mini_a, mini_b, human) = three_runs
    a, b, other = artifacts_of(mini_a), artifacts_of(mini_b), artifacts_of(human)

    # one evaluation artifact per configuration: same name, new content (a new version on sync)
    assert a["evaluation"]["name"] == b["evaluation"]["name"]
    assert a["evaluation"]["name"].startswith("eval-replay-")
    assert a["evaluation"]["digest"] != b["evaluation"]["digest"]
    assert a["evaluation"]["aliases"] == b["evaluation"]["aliases"] == ["latest"]
    # another configuration: another artifact
    assert other["evaluation"]["name"].startswith("eval-replay-")
    assert other["evaluation"]["name"] != a["evaluation"]["name"]

    # all three use one test set: one name from the fingerprint, one digest, marked as input
    fingerprint = read_json(run_dirs(cwd / "r")[0] / "metrics.json")["fingerprint"]
    for seen in (a, b, other):
        dataset = seen["dataset"]
        assert dataset["name"] == f"testset-{fingerprint[:12]}"
        assert dataset["digest"] == a["dataset"]["digest"]
        assert dataset["use_after_commit"] is True
        assert json.loads(dataset["metadata"])["fingerprint"] == fingerprint
        assert [c["path"] for c in dataset["manifest"]["contents"]] == ["testset.jsonl"]
        assert json.loads(seen["evaluation"]["metadata"])["dataset"] == dataset["name"]


@pytest.mark.slow
def test_the_run_records_git_and_the_artifact_names_and_no_key(three_runs) -> None:
    cwd, runs = three_runs
    folders = {read_json(folder / "wandb.json")["run_id"]: folder for folder in run_dirs(cwd / "r")}
    for run in runs:
        seen = inspect_summary(run)
        metrics = read_json(folders[seen["run_id"]] / "metrics.json")
        config = seen["config"]
        assert metrics["git"]["commit"] and len(metrics["git"]["commit"]) == 40
        assert config["git_commit"] == metrics["git"]["commit"]
        assert config["git_dirty"] == metrics["git"]["dirty"]
        assert seen["summary"]["git"] == metrics["git"]
        names = {a["type"]: a["name"] for a in artifacts_of(run).values()}
        assert config["dataset_artifact"] == names["dataset"]
        assert config["evaluation_artifact"] == names["evaluation"]
        assert names["evaluation"] == f"eval-replay-{config_hash(config['predictor'])}"
        assert "finetune_run" not in config
        for artifact in artifacts_of(run).values():
            assert SECRET not in json.dumps(artifact)
        assert SECRET not in json.dumps(config)
        for path in run.rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), f"the key leaked into {path}"


def test_the_key_neither_names_nor_changes_the_evaluation_artifact() -> None:
    metrics = {"predictor": "gpt-4o-mini", "fingerprint": "ab" * 32, "git": {}}

    def names(key: str) -> dict[str, Any]:
        config = {"predictor": {"model": "gpt-4o-mini", "api_key": key}}
        return lineage_config(metrics, redact(config))

    one, two = names(SECRET), names("sk-" + "other-THISISNOTAREALKEY0987654321")
    assert one == two and SECRET not in json.dumps(one)
    assert one["evaluation_artifact"].startswith("eval-gpt-4o-mini-")
    temperature = lineage_config(
        metrics, redact({"predictor": {"model": "gpt-4o-mini", "temperature": 0.5}})
    )  # fmt: skip
    assert temperature["evaluation_artifact"] != one["evaluation_artifact"]
    assert (
        one["dataset_artifact"]
        == wandb_worker.testset_artifact_name("ab" * 32)
        == "testset-abababababab"
    )


def test_a_fine_tuned_model_links_to_its_fine_tuning_run(tmp_path: Path) -> None:
    metrics = {"predictor": "fine_tuned", "fingerprint": "f" * 64, "git": {}}
    by_id = lineage_config(metrics, {"predictor": {"job_id": "ftjob-abc123", "suffix": None}})
    assert by_id["finetune_job"] == "ftjob-abc123"
    assert by_id["finetune_run"] == wandb_run_id("ftjob-abc123") == "ftjob-abc123"

    registry = tmp_path / "finetunes.jsonl"
    results.write_jsonl(registry, [
        {"job_id": "ftjob-old", "suffix": "pricer"}, {"job_id": "ftjob-new", "suffix": "pricer"},
    ])  # fmt: skip
    by_suffix = lineage_config(
        metrics, {"predictor": {"job_id": None, "suffix": "pricer", "registry": str(registry)}}
    )
    assert (by_suffix["finetune_job"], by_suffix["finetune_run"]) == ("ftjob-new", "ftjob-new")

    gone = {"predictor": {"suffix": "pricer", "registry": str(tmp_path / "missing.jsonl")}}
    assert "finetune_run" not in lineage_config(metrics, gone)
    plain = {"predictor": {"model": "gpt-4o-mini", "suffix": None, "job_id": None}}
    assert "finetune_run" not in lineage_config(metrics, plain)


@pytest.mark.slow
def test_a_fine_tuned_models_evaluation_names_the_fine_tuning_run(tmp_path: Path) -> None:
    from tests.openai_server import FakeOpenAI
    from tests.test_finetune import KEY, finetune

    env = {"HOME": str(tmp_path), "WANDB_DATA_DIR": str(tmp_path / "wandb-data")}
    with FakeOpenAI() as server:
        assert finetune(tmp_path, server, env=env).returncode == 0
        (job,) = server.jobs.values()
        (finetune_run,) = wandb_runs(tmp_path)
        proc = run_cli(
            "predictor=fine_tuned", "predictor.suffix=pricer", "data.size=5", "quiet=true",
            f"predictor.base_url={server.base_url}", "cache.enabled=false",
            f"results.dir={tmp_path}/results",
            cwd=tmp_path, tracker="wandb", env={**env, "OPENAI_API_KEY": KEY},
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    (evaluation_run,) = [run for run in wandb_runs(tmp_path) if run != finetune_run]
    config = inspect_summary(evaluation_run)["config"]
    assert config["finetune_job"] == job["id"]
    assert config["finetune_run"] == inspect_summary(finetune_run)["run_id"] == job["id"]
    assert KEY not in json.dumps(config)
    assert KEY not in json.dumps(artifacts_of(evaluation_run))
