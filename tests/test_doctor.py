"""``pricebench doctor`` (issue 16): what a run would use, in a few lines, without writing,
downloading or running anything; exit 0 when a run would start, 1 on a problem, 2 on a bad
override.

The command runs in this process (``harness.cli.main`` with ``sys.argv`` patched, as the console
script calls it): it composes one config and reads the data once, well under a second, so a
forked process would cost more than it does. Hostile inputs are in tests/hostile/cases_doctor.py.
"""

from __future__ import annotations

import os
import socket
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from harness import cli
from harness.data import load_dataset
from harness.doctor import provider_key_names
from tests.conftest import DATA_DIR

# Every variable that would change what doctor reports, cleared for each test.
_ENV = ("PRICEBENCH_DATA", "PRICEBENCH_DATA_2025", "WANDB_MODE", "WANDB_DIR", "WANDB_BASE_URL")


def _doctor(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
) -> tuple[int, list[str], list[str]]:
    """``pricebench doctor *args`` in ``cwd`` with a clean environment plus ``env``: its exit
    status and its stdout and stderr lines."""
    for name in (*_ENV, *provider_key_names()):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(cwd))  # no ~/.netrc: W&B has no key unless a test sets one
    monkeypatch.setenv("PRICEBENCH_CACHE", str(cwd / "cache"))
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["pricebench", "doctor", *args])
    with pytest.raises(SystemExit) as done:
        cli.main()
    out, err = capsys.readouterr()
    code = done.value.code
    assert isinstance(code, int)
    return code, out.splitlines(), err.splitlines()


def test_shared_data_is_canonical_and_nothing_is_written(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    expected = load_dataset(str(DATA_DIR))  # what a run over the shared data stores
    assert expected.canonical
    code, out, err = _doctor(monkeypatch, capsys, tmp_path, env={"PRICEBENCH_DATA": str(DATA_DIR)})
    assert (code, err) == (0, []), out
    assert out[0] == (
        f"data: {DATA_DIR / 'test.jsonl'} -- 250 test items, fingerprint "
        f"{expected.fingerprint[:12]}, canonical (the course's fixed 250)"
    )
    assert out[1].startswith(f"training pool: {len(expected.train):,} items ({DATA_DIR}/")
    assert out[2] == (
        f"W&B: offline (runs saved under {tmp_path / 'wandb'}; `wandb sync` uploads them later)"
    )
    assert f"results: {tmp_path / 'results'} (writable; made by the first run)" in out
    assert f"cache: {tmp_path / 'cache'} (writable; made by the first LLM run)" in out
    assert out[-1] == "doctor: all set"
    assert list(tmp_path.iterdir()) == []  # no results, wandb or cache folder, no probe left


def test_a_key_is_named_and_its_value_never_shown(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    openai_key = "sk-" + "doctor" + "0123456789abcdef"
    wandb_key = "0123456789" + "abcdef" * 5
    env = {"PRICEBENCH_DATA": str(DATA_DIR), "OPENAI_API_KEY": openai_key}
    env["WANDB_API_KEY"] = wandb_key
    code, out, err = _doctor(
        monkeypatch, capsys, tmp_path, "predictor=gpt-5-mini", "tracker=none", env=env
    )
    assert code == 0, out + err
    keys = next(line for line in out if line.startswith("provider keys: "))
    assert keys.startswith("provider keys: OPENAI_API_KEY, WANDB_API_KEY set; ANTHROPIC_API_KEY")
    assert keys.endswith(" not set")
    everything = "\n".join(out + err)
    assert openai_key not in everything and wandb_key not in everything
    assert "sk-" not in everything


def test_the_predictors_own_key_missing_is_a_problem(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = {"PRICEBENCH_DATA": str(DATA_DIR)}
    code, out, err = _doctor(
        monkeypatch, capsys, tmp_path, "predictor=gpt-5-mini", "tracker=none", env=env
    )
    assert code == 1
    assert err == ["doctor: 1 problem above (provider keys)"]
    fix = "; this predictor reads OPENAI_API_KEY: export OPENAI_API_KEY=... before the run"
    assert any(line.startswith("provider keys: ") and line.endswith(fix) for line in out), out


def test_results_under_a_file_is_not_writable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "plain").write_text("a file, not a folder\n")
    env = {"PRICEBENCH_DATA": str(DATA_DIR)}
    code, out, err = _doctor(
        monkeypatch, capsys, tmp_path, "results.dir=plain/results", "tracker=none", env=env
    )
    assert code == 1
    assert (
        f"results: {tmp_path}/plain/results cannot be written: {tmp_path}/plain is a file, not "
        "a folder; set results.dir to a folder you can write to"
    ) in out
    assert err == ["doctor: 1 problem above (results)"]
    assert "doctor: all set" not in out


def test_no_data_path_names_the_hub_and_touches_no_network(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"doctor opened a connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    had_datasets = "datasets" in sys.modules
    env = {"HF_ENDPOINT": "http://127.0.0.1:1"}
    code, out, err = _doctor(monkeypatch, capsys, tmp_path, "tracker=none", env=env)
    installed = find_spec("datasets") is not None
    # Exit 0 when the `datasets` library is there (a run needs only network), 1 when it is not.
    assert code == (0 if installed else 1), out + err
    assert out[0].startswith(
        "data: no data.path or PRICEBENCH_DATA: a run downloads the test split of the hub "
        "dataset ed-donner/pricer-data (needs network; not tried here); the `datasets` library "
        + ("is installed" if installed else "is NOT installed")
    )
    assert not any(line.startswith("training pool") for line in out)
    assert had_datasets or "datasets" not in sys.modules  # not even imported
    assert list(tmp_path.iterdir()) == []


def test_a_bad_override_is_the_main_commands_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _doctor(monkeypatch, capsys, tmp_path, "data.size=abc")
    assert (code, out) == (2, [])
    # the main command's line for the same override (tests/test_configs.py)
    assert err == [
        "pricebench: error: Error merging override data.size=abc: Value 'abc' of type 'str' "
        "could not be converted to Integer"
    ]


def test_help_explains_the_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _doctor(monkeypatch, capsys, tmp_path, "--help")
    assert (code, err) == (0, [])
    assert out[0] == "usage: pricebench doctor [KEY=VALUE ...]"
    assert "names only, never values" in " ".join(out)
    assert list(tmp_path.iterdir()) == []


def test_key_names_come_from_the_predictor_configs() -> None:
    names = provider_key_names()
    assert names[-1] == "WANDB_API_KEY"
    assert {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_API_KEY"} <= set(names)
    assert len(names) == len(set(names))
    assert all(name == name.strip() and name for name in names)
    assert os.sep not in "".join(names)
