"""With no data.path and no PRICEBENCH_DATA, pricebench downloads the data from the Hugging Face
hub; with no way to reach the hub, a run ends at once in one line that says how to go on (issue
16), rather than after half a minute of the hub library's retry warnings.

No network here: the hub is ``HF_ENDPOINT`` pointed at a port on 127.0.0.1 that is closed, or at
a server that takes the connection and never answers.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

import harness.data as data
from harness.data import load_dataset
from harness.errors import PricebenchError
from tests.conftest import DATA_DIR, ROOT, _cli
from tests.forked import run_module

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: bound, read, and closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port whose connections the kernel accepts (a listening socket's backlog) and nobody
    ever answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def forks_ready() -> None:
    """The fork server up, its imports done (one command through it), before a clock starts: it
    is shared by the whole suite, and its start is no part of a run's time."""
    run_module("tests.forked", [], ROOT, dict(os.environ))


def run_without_data(tmp_path: Path, endpoint: str, *args: str, **env: str) -> tuple:
    """``pricebench quiet=true *args`` as a newcomer runs it: no PRICEBENCH_DATA, no data.path,
    no hub cache, no offline flag, no proxy; the hub at ``endpoint``. (stdout, stderr, seconds)."""
    command, full_env = _cli(("quiet=true", *args), tmp_path, None, "none")
    for name in ("PRICEBENCH_DATA", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_VERBOSITY"):
        full_env.pop(name, None)
    for name in [k for k in full_env if k.lower() in PROXY_VARS]:
        full_env.pop(name)
    full_env.update(HF_ENDPOINT=endpoint, HF_HOME=str(tmp_path / "hf"), **env)
    started = time.monotonic()
    done = run_module(command[2], command[3:], tmp_path, full_env, timeout=20)
    assert done.returncode == 2, done.stdout + done.stderr
    return done.stdout, done.stderr, time.monotonic() - started


def unreachable_line(endpoint: str, reason: str) -> str:
    return (
        "pricebench: error: cannot reach the Hugging Face hub to download ed-donner/pricer-data "
        f"({endpoint}, from HF_ENDPOINT: {reason}); set data.path=DIR or PRICEBENCH_DATA=DIR to "
        f"local data, e.g. {DATA_DIR.resolve()}, or HF_HUB_OFFLINE=1 to use a copy downloaded "
        "before"
    )


def test_with_the_hub_out_of_reach_a_run_ends_at_once_in_one_line(
    tmp_path: Path, forks_ready: None
) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    stdout, stderr, seconds = run_without_data(tmp_path, endpoint)
    assert stderr.splitlines() == [
        unreachable_line(endpoint, "ConnectError: [Errno 111] Connection refused")
    ]
    for chatter in ("Retry", "WARNING", "thrown while requesting"):
        assert chatter not in stdout + stderr
    assert seconds < 8  # (before: 26 s of retries, on this machine)


@pytest.mark.slow  # (waits the probe's 3 s)
def test_a_hub_that_takes_the_connection_and_never_answers_is_given_up_on(
    tmp_path: Path, silent_port: int, forks_ready: None
) -> None:
    endpoint = f"http://127.0.0.1:{silent_port}"
    stdout, stderr, seconds = run_without_data(tmp_path, endpoint)
    timeout = f"{data.HUB_PROBE_TIMEOUT:g}"
    assert stderr.splitlines() == [unreachable_line(endpoint, f"no answer in {timeout} s")]
    assert "Retry" not in stdout + stderr
    assert data.HUB_PROBE_TIMEOUT <= seconds < data.HUB_PROBE_TIMEOUT + 5


def test_offline_mode_goes_to_the_local_cache_without_asking_the_hub(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (the command with HF_HUB_OFFLINE=1: tests/test_editions_data.py's items_lite test, whose
    # notice and "could not load" line would be this probe's line if the hub were asked)
    def unreachable(endpoint: str, timeout: float = 0) -> str:
        raise AssertionError(f"the hub was probed ({endpoint}) in offline mode")

    monkeypatch.setattr(data, "hub_unreachable", unreachable)
    monkeypatch.setattr(data, "_HUB_REACHED", set())
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    if "datasets.config" in sys.modules:  # (what it read when imported is what it uses)
        monkeypatch.setattr(sys.modules["datasets.config"], "HF_HUB_OFFLINE", True)
    data.check_hub("ed-donner/pricer-data")


@pytest.mark.parametrize(
    ("edition", "split", "fix"),
    [
        ("2024", "test", f"data.path=DIR or PRICEBENCH_DATA=DIR to local data, e.g. {DATA_DIR}"),
        (
            "2025",
            "test",
            "data.path=DIR or PRICEBENCH_DATA_2025=DIR to local data in the 2025 schema",
        ),
        ("2024", "train", "data.train_path=DIR to local training data"),  # (data.train_path=hub)
    ],
)
def test_the_line_names_the_setting_that_gives_local_data(
    monkeypatch: pytest.MonkeyPatch, edition: str, split: str, fix: str
) -> None:
    monkeypatch.setattr(data, "hub_unreachable", lambda endpoint, timeout=0: "no route")
    monkeypatch.setattr(data, "_HUB_REACHED", set())
    monkeypatch.setattr(data, "_hub_offline", lambda: False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    from huggingface_hub import constants

    endpoint = constants.ENDPOINT
    with pytest.raises(PricebenchError) as raised:
        data.load_hub("some/dataset", split, edition=edition)
    assert str(raised.value) == (
        f"cannot reach the Hugging Face hub to download some/dataset ({endpoint}: no route); "
        f"set {fix}, or HF_HUB_OFFLINE=1 to use a copy downloaded before"
    )


class _Answers(BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:  # noqa: N802 (the http.server's name)
        self.send_response(int(self.path.strip("/")))  # the status the endpoint's path names
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_hub_that_answers_is_reached_unless_it_is_not_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from huggingface_hub import constants

    # (read when huggingface_hub was imported in this process, maybe by a test in offline mode)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    server = HTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        assert data.hub_unreachable(f"{endpoint}/404", timeout=2.0) is None  # (it is there)
        assert data.hub_unreachable(f"{endpoint}/503", timeout=2.0) == "HTTP 503, not serving"
        closed = f"http://127.0.0.1:{closed_port()}"
        assert data.hub_unreachable(closed, timeout=2.0) == (
            "ConnectError: [Errno 111] Connection refused"
        )
    finally:
        server.shutdown()
        server.server_close()


def test_local_data_never_asks_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(endpoint: str, timeout: float = 0) -> str:
        raise AssertionError(f"the hub was probed ({endpoint}) for local data")

    monkeypatch.setattr(data, "hub_unreachable", unreachable)
    monkeypatch.setattr(data, "_HUB_REACHED", set())
    dataset = load_dataset(str(DATA_DIR), need_train=True)  # data.path=DIR
    assert dataset.canonical and dataset.train
    monkeypatch.setenv("PRICEBENCH_DATA", str(DATA_DIR))
    assert load_dataset(None, size=10, need_train=False).source == str(DATA_DIR / "test.jsonl")


def test_the_probe_is_what_stops_a_run_without_data(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(data, "hub_unreachable", lambda endpoint, timeout=0: "no route")
    monkeypatch.setattr(data, "_HUB_REACHED", set())
    monkeypatch.setattr(data, "_hub_offline", lambda: False)
    monkeypatch.delenv("PRICEBENCH_DATA", raising=False)
    with pytest.raises(PricebenchError, match=r"^cannot reach the Hugging Face hub .*no route\)"):
        load_dataset(None)
    assert capsys.readouterr().err == ""  # (not the "loading ... from the hub" notice first)


def test_the_hub_libraries_warnings_are_kept_quiet_while_they_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # huggingface_hub and datasets each set their own logger to WARNING with a stderr handler of
    # their own when imported, after Hydra applied conf/config.yaml's job_logging levels.
    monkeypatch.delenv("HF_HUB_VERBOSITY", raising=False)
    monkeypatch.delenv("DATASETS_VERBOSITY", raising=False)
    retries = logging.getLogger("huggingface_hub.utils._http")
    before = {name: logging.getLogger(name).level for name in ("huggingface_hub", "datasets")}
    with data.quiet_hub_logs():
        assert not retries.isEnabledFor(logging.WARNING)
        assert not logging.getLogger("datasets.load").isEnabledFor(logging.WARNING)
        assert retries.isEnabledFor(logging.ERROR)
    assert {name: logging.getLogger(name).level for name in before} == before
    monkeypatch.setenv("HF_HUB_VERBOSITY", "warning")  # asked for: not hidden
    with data.quiet_hub_logs():
        assert logging.getLogger("huggingface_hub").level == before["huggingface_hub"]
