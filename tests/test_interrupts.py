"""Ctrl-C is quiet (issue 12, row 9): an LLM run interrupted while its requests are in flight
exits 130 with one line, and no traceback from the event loop (with tracker=none; W&B's worker
is tested with the tracker)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.conftest import start_cli
from tests.llm_helpers import KEY, no_run, run_llm
from tests.openai_server import FakeOpenAI, Reply

pytestmark = pytest.mark.slow


def _interrupted(tmp_path: Path, server: FakeOpenAI, *args: str) -> tuple[int, str, str]:
    proc = start_cli(
        "predictor=gpt-4o-mini", f"predictor.base_url={server.base_url}", "chart=false",
        f"cache.dir={tmp_path}/cache", f"results.dir={tmp_path}/r", *args,
        cwd=tmp_path, env={"OPENAI_API_KEY": KEY},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not server.chat_requests() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        assert server.chat_requests(), "no request reached the server"
        time.sleep(0.3)  # the other requests are sent and waiting too
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out, err


@pytest.mark.parametrize("quiet", ["quiet=true", "quiet=false"])
def test_ctrl_c_while_requests_wait_is_one_line_and_exit_130(tmp_path: Path, quiet: str) -> None:
    with FakeOpenAI(chat=lambda body, n: Reply(text="100", delay=20)) as server:
        code, out, err = _interrupted(tmp_path, server, quiet, "data.size=20")
    both = out + err
    assert "Traceback" not in both and "Event loop is closed" not in both, both
    assert "Exception ignored" not in both, both
    assert code == 130, both
    lines = [line for line in err.splitlines() if line.strip().startswith("pricebench:")]
    assert len(lines) == 1 and lines[0].startswith("pricebench: error: interrupted"), err
    assert no_run(tmp_path)


def test_ctrl_c_keeps_the_answers_already_received(tmp_path: Path) -> None:
    """The first items answer at once, the rest hang: after Ctrl-C the answers are in the cache,
    so a rerun asks only for the rest."""
    slow_after = 5
    state = {"interrupted": False}

    def some_fast(body: dict, n: int) -> Reply:
        slow = n >= slow_after and not state["interrupted"]
        return Reply(text="100", delay=20 if slow else 0)

    with FakeOpenAI(chat=some_fast) as server:
        proc_args = ("quiet=true", "data.size=10", "predictor.concurrency=6")
        code, out, err = _interrupted(tmp_path, server, *proc_args)
        assert code == 130 and "Traceback" not in out + err, out + err
        asked = len(server.chat_requests())
        state["interrupted"] = True
        rerun = run_llm(tmp_path, server.base_url, "data.size=10")
        assert rerun.returncode == 0, rerun.stderr
        assert len(server.chat_requests()) - asked == 10 - slow_after


def test_a_request_that_ctrl_c_ended_leaves_no_unretrieved_task_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Ctrl-C lands inside a request's task: the task ends holding KeyboardInterrupt, which
    asyncio would log as "Task exception was never retrieved" (with a traceback) when the task
    is collected, after the CLI's one line."""
    import gc

    from harness.data import Item
    from harness.run import build, compose
    from predictors.llm import ChatPricer

    async def interrupted(self, position, item, model):  # as if SIGINT arrived in this step
        raise KeyboardInterrupt

    monkeypatch.setattr(ChatPricer, "_one", interrupted)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with FakeOpenAI() as server:
        cfg = compose(
            ["predictor=gpt-4o-mini", f"predictor.base_url={server.base_url}",
             f"cache.dir={tmp_path}/cache"]
        )  # fmt: skip
        pricer = build(cfg.predictor, "predictor")
        items = [Item(index=i, title="t", price=1.0, text="a thing") for i in range(3)]
        with pytest.raises(KeyboardInterrupt):
            list(pricer.predict_iter(items))
    del pricer
    with caplog.at_level("ERROR", logger="asyncio"):
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
