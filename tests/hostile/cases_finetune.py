"""Hostile cases: fine-tuning (``pricebench-finetune``), and the installed wheel.

The wheel itself is built and run outside the checkout in tests/test_wheel.py; the fine-tuning
W&B run (one per job, every step, resumed) is read back in tests/test_finetune_wandb.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.hostile.cases import DATA_DIR, Case
from tests.openai_server import FakeOpenAI

_SERVERS: dict[Path, FakeOpenAI] = {}
_KEY = "sk-" + "test-HOSTILEFINETUNEKEY0000000000"  # fake, built so no scanner flags it
_E = "^pricebench-finetune: error: "
_STATE = "results/finetune/pricer/state.json"


def _serve(tmp: Path) -> None:
    """A local OpenAI-compatible server for the case in ``tmp`` (its check stops it)."""
    _SERVERS[tmp] = FakeOpenAI().start()


def _serve_refusing(tmp: Path) -> None:
    """A server that answers every job creation (and the check before uploading) with 403."""
    from tests.test_finetune_endpoints import RefusingOpenAI

    _SERVERS[tmp] = RefusingOpenAI().start()


def _only_the_check(tmp: Path, done: subprocess.CompletedProcess) -> None:
    requests = _stop(tmp)
    assert [(r["method"], r["path"]) for r in requests] == [("POST", "/v1/fine_tuning/jobs")]


def _at_server(*extra: str):
    def args(tmp: Path) -> list[str]:
        return [f"base_url={_SERVERS[tmp].base_url}", "poll_seconds=0.01", *extra]

    return args


def _stop(tmp: Path) -> list[dict]:
    server = _SERVERS.pop(tmp)
    server.stop()
    return server.requests


def _nothing_sent(tmp: Path, done: subprocess.CompletedProcess) -> None:
    assert _stop(tmp) == []


def _no_upload(tmp: Path, done: subprocess.CompletedProcess) -> None:
    requests = _stop(tmp)
    assert not [r for r in requests if r["method"] == "POST"], [r["path"] for r in requests]


def _items_2025(tmp: Path) -> None:
    from tests.editions import write_items_2025

    write_items_2025(tmp / "items_lite", n_test=200, n_train=20)


def _a_file(tmp: Path) -> None:
    (tmp / "a-file").write_text("not a folder\n")


def _write(relative: str, text: str):
    def setup(tmp: Path) -> None:
        path = tmp / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    return setup


def _serve_and(setup):
    def both(tmp: Path) -> None:
        setup(tmp)
        _serve(tmp)

    return both


def _nothing_prepared(tmp: Path, done: subprocess.CompletedProcess) -> None:
    assert not list(tmp.rglob("train.jsonl"))


def _nothing_prepared_in_results(tmp: Path, done: subprocess.CompletedProcess) -> None:
    assert not list((tmp / "results").rglob("train.jsonl"))


def _constant_line(tmp: Path, done: subprocess.CompletedProcess) -> None:
    assert "constant Error=$145.27 RMSLE=1.22 Hits=16.8%" in done.stdout.splitlines()


_KEYED = {"OPENAI_API_KEY": _KEY}

CASES: list[Case] = [
    # row 11: the configs are the package's own, whatever folder it runs from: a conf/ of the
    # user's own in the working folder is not read (the wheel is tested in tests/test_wheel.py)
    Case(
        "wheel-a-foreign-conf-folder-in-the-working-folder-is-not-read",
        11,
        "pricebench",
        ["predictor=constant", "tracker=none", "quiet=true", "progress=false"],
        r"^constant Error=\$145\.27 RMSLE=1\.22 Hits=16\.8%$",
        exit_code=0,
        setup=_write("conf/config.yaml", "defaults: [nonsense\n"),
        check=_constant_line,
        stream="stdout",
    ),
    # row 12: the W&B folder is checked before anything is uploaded or followed
    Case(
        "finetune-wandb-dir-under-a-file",
        12,
        "pricebench-finetune",
        _at_server("wandb.dir={tmp}/a-file/wandb"),
        _E + r"wandb\.dir=\S*/a-file/wandb cannot be written: \S*/a-file is a file, not a "
        r"folder; set wandb\.dir to a folder you can write to, or wandb\.log=false$",
        setup=_serve_and(_a_file),
        check=_nothing_sent,
        env=_KEYED,
    ),
    Case(
        "finetune-wandb-mode-unknown",
        12,
        "pricebench-finetune",
        _at_server("stage=follow", "job_id=ftjob-1", "wandb.mode=sometimes"),
        _E + r"wandb\.mode='sometimes': must be one of online, offline, disabled, shared$",
        setup=_serve,
        check=_nothing_sent,
        env=_KEYED,
    ),
    # beyond the table: what a hostile user tried against pricebench-finetune
    Case(
        "finetune-stage-unknown",
        0,
        "pricebench-finetune",
        ["stage=train"],
        _E + r"stage must be one of prepare, upload, create, follow or all, not 'train'$",
    ),
    Case(
        "finetune-training-file-missing",
        0,
        "pricebench-finetune",
        ["stage=prepare", "data.train_path={tmp}/nope.jsonl"],
        _E + r"training data \S*/nope\.jsonl does not exist; fix data\.train_path$",
        check=_nothing_prepared,
    ),
    Case(
        "finetune-job-id-unknown-to-the-server",
        0,
        "pricebench-finetune",
        _at_server("stage=follow", "job_id=ftjob-doesnotexist", "wandb.log=false"),
        _E + r"reading job ftjob-doesnotexist failed: .*No such object: ftjob-doesnotexist",
        setup=_serve,
        check=_no_upload,
        env=_KEYED,
    ),
    Case(
        "finetune-server-unreachable",
        0,
        "pricebench-finetune",
        ["stage=follow", "job_id=ftjob-1", "wandb.log=false", "base_url=http://127.0.0.1:9/v1"],
        _E + r"reading job ftjob-1 failed: APIConnectionError: Connection error\.$",
        env=_KEYED,
        timeout=120,
    ),
    Case(
        "finetune-no-api-key",
        0,
        "pricebench-finetune",
        _at_server("stage=follow", "job_id=ftjob-1"),
        _E + r"OPENAI_API_KEY is not set",
        setup=_serve,
        check=_nothing_sent,
        env={"OPENAI_API_KEY": ""},
    ),
    Case(
        "finetune-poll-seconds-not-a-number",
        0,
        "pricebench-finetune",
        _at_server("poll_seconds=soon"),
        _E + r"poll_seconds='soon': must be a number above 0$",
        setup=_serve,
        check=_nothing_sent,
        env=_KEYED,
    ),
    Case(
        "finetune-epochs-zero",
        0,
        "pricebench-finetune",
        _at_server("n_epochs=0"),
        _E + r"n_epochs=0: must be a whole number of at least 1$",
        setup=_serve,
        check=_nothing_sent,
        env=_KEYED,
    ),
    Case(
        "finetune-train-size-not-a-number",
        0,
        "pricebench-finetune",
        ["stage=prepare", "train_size=lots"],
        _E + r"train_size='lots': must be a whole number of at least 1$",
        check=_nothing_prepared,
    ),
    Case(
        "finetune-output-dir-under-a-file",
        0,
        "pricebench-finetune",
        ["stage=prepare", "output_dir={tmp}/a-file/out"],
        _E + r"output_dir=\S*/a-file/out cannot be written: \S*/a-file is a file, not a folder",
        setup=_a_file,
    ),
    Case(
        "finetune-state-file-not-json",
        0,
        "pricebench-finetune",
        ["stage=upload"],
        _E + r"\S*state\.json cannot be read \(JSONDecodeError: .*\): fix it, or delete it",
        setup=_write(_STATE, "{half a state"),
        env=_KEYED,
    ),
    Case(
        "finetune-state-file-a-list",
        0,
        "pricebench-finetune",
        ["stage=upload"],
        _E + r"\S*state\.json holds list, not an object: delete it and rerun stage=prepare$",
        setup=_write(_STATE, "[1, 2]\n"),
        env=_KEYED,
    ),
    Case(
        "finetune-registry-line-not-json",
        0,
        "pricebench-finetune",
        ["stage=follow", "wandb.log=false"],
        _E + r"the job registry \S*finetunes\.jsonl, line 2: not JSON \(.*\); fix or delete",
        setup=_write("results/finetunes.jsonl", '{"job_id": "ftjob-1"}\n{"job_id": \n'),
        env=_KEYED,
    ),
    Case(
        "fine-tuned-predictor-registry-line-not-json",
        0,
        "pricebench",
        ["predictor=fine_tuned", "predictor.suffix=pricer", "tracker=none"],
        r"^pricebench: error: the job registry \S*finetunes\.jsonl, line 2: not JSON",
        setup=_write("results/finetunes.jsonl", '{"job_id": "ftjob-1"}\n{"job_id": \n'),
        env=_KEYED,
    ),
    Case(
        "finetune-no-job-for-the-suffix",
        0,
        "pricebench-finetune",
        ["stage=follow", "suffix=nobody", "wandb.log=false"],
        _E + r"no fine-tuning job with suffix 'nobody' in \S*finetunes\.jsonl",
        env=_KEYED,
    ),
    Case(
        "finetune-upload-before-prepare",
        0,
        "pricebench-finetune",
        ["stage=upload"],
        _E + r"nothing prepared in \S*: run stage=prepare first$",
        env=_KEYED,
    ),
    Case(
        "finetune-training-file-not-utf8",
        0,
        "pricebench-finetune",
        ["stage=prepare", "data.train_path={tmp}/latin1.jsonl"],
        _E + r"\S*latin1\.jsonl:1: not UTF-8",
        setup=lambda tmp: (tmp / "latin1.jsonl").write_bytes(b'{"title": "caf\xe9"}\n'),
        check=_nothing_prepared,
    ),
    # issue 13: where fine-tuning still runs
    Case(
        "finetune-job-creation-refused-403",
        0,
        "pricebench-finetune",
        _at_server("wandb.log=false"),
        _E + r"127\.0\.0\.1:\d+ refused to create fine-tuning jobs \(HTTP 403: Fine-tuning is not "
        r"available for this organization\.\); OpenAI is winding down self-serve fine-tuning "
        r"\(.*2026-05-07.*2026-07-02.*2027-01-06; existing fine-tuned models answer until their "
        r"base model is retired\)\. Still works: .*predictor=fine_tuned predictor\.job_id=.*"
        r"predictor=replay predictor\.path=\S+/reference/gpt-4o-mini-fine-tuned\.csv.*"
        r"provider=azure.*predictor=fine_tuned predictor\.model=NAME predictor\.base_url=URL\); "
        r"nothing was uploaded and no job created$",
        setup=_serve_refusing,
        check=_only_the_check,
        env=_KEYED,
    ),
    Case(
        "finetune-provider-unknown",
        0,
        "pricebench-finetune",
        ["provider=vertex"],
        _E + r"provider='vertex': must be one of openai, azure \(or keep provider=openai and set "
        r"base_url=URL api_key_env=VAR for another server\)$",
        check=_nothing_prepared,
    ),
    Case(
        "finetune-azure-endpoint-not-set",
        0,
        "pricebench-finetune",
        ["provider=azure"],
        _E + r"AZURE_OPENAI_ENDPOINT is not set: export AZURE_OPENAI_ENDPOINT=https://RESOURCE\."
        r"openai\.azure\.com \(your resource's endpoint\), or set base_url=URL$",
        check=_nothing_prepared,
        env={"AZURE_OPENAI_ENDPOINT": "", "AZURE_OPENAI_API_KEY": "k" * 20},
    ),
    Case(
        "finetune-azure-key-not-set",
        0,
        "pricebench-finetune",
        ["provider=azure", "stage=follow", "job_id=ftjob-1", "wandb.log=false"],
        _E + r"AZURE_OPENAI_API_KEY is not set",
        env={"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9", "AZURE_OPENAI_API_KEY": ""},
    ),
    Case(
        "finetune-check-access-not-a-boolean",
        0,
        "pricebench-finetune",
        ["check_access=maybe"],
        _E + r"check_access='maybe': must be true or false$",
        check=_nothing_prepared,
    ),
    Case(
        "finetune-base-url-empty",
        0,
        "pricebench-finetune",
        ["base_url=' '"],
        _E + r"base_url=' ': must be a non-empty text, or null$",
        check=_nothing_prepared,
    ),
    # issue 13, item 5: fine-tuning data for the 2025 edition
    Case(
        "finetune-items-lite-on-2024-data",
        0,
        "pricebench-finetune",
        ["data=items_lite", f"data.path={DATA_DIR}", "stage=prepare"],
        _E + r"\S*/test\.jsonl holds test items in the 2024 edition's schema \(text\), not the "
        r"2025 one .*; use data=pricer for it",
        check=_nothing_prepared,
    ),
    Case(
        "finetune-pricer-on-2025-data",
        0,
        "pricebench-finetune",
        ["data=pricer", "data.path={tmp}/items_lite", "stage=prepare"],
        _E + r"\S*/items_lite/test\.jsonl holds test items in the 2025 edition's schema .*; use "
        r"data=items_lite",
        setup=_items_2025,
        check=_nothing_prepared_in_results,
    ),
    Case(
        "finetune-items-lite-too-few-training-items",
        0,
        "pricebench-finetune",
        ["data=items_lite", "data.path={tmp}/items_lite", "stage=prepare"],
        _E + r"train_size=200 \+ validation_size=50 needs 250 items but the training source has "
        r"20; lower `train_size` or `validation_size`$",
        setup=_items_2025,
        check=_nothing_prepared_in_results,
    ),
]
