"""The README as a newcomer follows it (issue 16): its set-up commands are the ones CI runs, every
``pricebench`` command in it composes, and the set-up and running sections work verbatim in a
clean shell (nothing in the environment but ``HOME``, ``PATH`` and ``LANG``), from the clone's
root and then from another folder."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DATA_DIR, ROOT, read_json, run_dirs

README = ROOT / "README.md"
_BLOCK = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.M | re.S)


def sections() -> dict[str, str]:
    """Each ``## `` section of the README by its heading."""
    parts = re.split(r"^## (.+)$", README.read_text(encoding="utf-8"), flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def blocks(text: str, language: str = "bash") -> list[str]:
    """The fenced code blocks of ``text`` in ``language``, their indentation removed."""
    out = []
    for indent, lang, body in _BLOCK.findall(text):
        if lang == language:
            out.append("".join(line[len(indent) :] + "\n" for line in body.splitlines()))
    return out


def command_lines(block: str) -> list[list[str]]:
    """Each command of a block as the shell splits it (comments dropped, ``NAME=value`` prefixes
    kept)."""
    joined = block.replace("\\\n", " ")  # a line continued with a backslash
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def test_the_set_up_commands_are_the_ones_ci_runs_verbatim() -> None:
    setup = blocks(sections()["Set-up: two commands"])
    assert len(setup) == 2, "the set-up is two commands"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for block in setup:
        (line,) = block.splitlines()
        assert line in ci, f".ci/run does not run the README's command verbatim: {line}"


def _overrides(words: list[str]) -> list[list[str]] | None:
    """The override lists a ``pricebench`` command composes (one per value of a sweep); None
    when the command composes nothing (``--help``, ``doctor``)."""
    args = [os.path.expandvars(w) for w in words[1:] if w not in ("-m", "--multirun")]
    if not args or args[0] in ("--help", "-h", "doctor", "--info", "--cfg"):
        return None
    args = [a for a in args if not a.startswith(("hydra/", "hydra."))]
    runs: list[list[str]] = [[]]
    for arg in args:
        key, _, value = arg.partition("=")
        values = value.split(",") if "," in value and "'" not in value else [value]
        if "." in key:  # a setting's sweep: its first value stands for the others
            values = values[:1]
        runs = [run + [f"{key}={v}"] for run in runs for v in values]
    return runs


def readme_commands(program: str) -> list[list[str]]:
    found = []
    for block in blocks(README.read_text(encoding="utf-8")):
        for words in command_lines(block):
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):  # NAME=value cmd
                words = words[1:]
            if words and words[0] == program:
                found.append(words)
    return found


def test_every_pricebench_command_in_the_readme_composes_and_passes_the_config_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A renamed config group, option or key fails here instead of in a newcomer's shell."""
    from hydra import compose, initialize_config_dir

    from harness import schema
    from harness.config_check import check_config
    from harness.paths import CONF_DIR

    schema.register()
    monkeypatch.setenv("PRICEBENCH_DATA", str(DATA_DIR))
    commands = readme_commands("pricebench")
    assert len(commands) > 20
    composed: set[tuple[str, ...]] = set()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):  # (once: it is slow)
        for words in commands:
            for overrides in _overrides(words) or []:
                if tuple(overrides) in composed:
                    continue
                composed.add(tuple(overrides))
                try:
                    check_config(compose("config", overrides=overrides))
                except Exception as exc:  # noqa: BLE001  (the failure names the README's line)
                    pytest.fail(f"README: {shlex.join(words)}: {exc}")
    assert len(composed) > len(commands) / 2


def test_every_pricebench_finetune_command_in_the_readme_composes() -> None:
    from harness.run import compose

    commands = readme_commands("pricebench-finetune")
    assert commands
    for words in commands:
        try:
            compose(words[1:], config_name="finetune")
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"README: {shlex.join(words)}: {exc}")


def _clean_shell(script: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run(
        ["bash", "-e", "-c", script], env=env, capture_output=True, text=True, timeout=600
    )


@pytest.mark.slow
def test_the_set_up_and_running_sections_work_verbatim_in_a_clean_shell(tmp_path: Path) -> None:
    """The running section's blocks, pasted into a shell that has nothing set: the first (venv,
    data path, doctor) from the clone's root, the rest from another folder. The clone here is a
    folder with the checkout's ``.venv`` and ``../shared`` beside it, as in CI."""
    running = blocks(sections()["Running"])
    assert len(running) == 2, "the running section: a once-per-shell block, then the commands"
    clone, elsewhere = tmp_path / "clone", tmp_path / "elsewhere"
    clone.mkdir()
    elsewhere.mkdir()
    (clone / ".venv").symlink_to(ROOT / ".venv")
    (clone / "results").mkdir()  # as the set-up's first run leaves it
    (tmp_path / "shared").symlink_to(DATA_DIR.parents[1])
    script = f"cd {shlex.quote(str(clone))}\n{running[0]}cd {shlex.quote(str(elsewhere))}\n"
    script += running[1]
    proc = _clean_shell(script, Path(os.environ.get("HOME", str(tmp_path))))
    out = proc.stdout.splitlines()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "doctor: all set" in out
    # The README shows what doctor prints (its paths are another clone's: compared by last name).
    shown = blocks(sections()["Running"], "")[0].splitlines()
    assert [_names(line) for line in out[: out.index("doctor: all set") + 1]] == [
        _names(line) for line in shown
    ]
    # The README's sample output is what the random baseline prints.
    sample = blocks(sections()["Running"], "")[-1].splitlines()
    missing = [line for line in sample if line != "..." and not line.startswith("results: ")]
    assert [line for line in missing if line not in out] == []
    # Every run went to the folder the commands ran in, none to the clone.
    assert not any((clone / "results").iterdir())
    runs = run_dirs(elsewhere / "results")
    names = sorted(read_json(r / "metrics.json")["predictor"] for r in runs)
    assert names == ["constant", "random", "random", "replay"]
    assert "gpt-4o-mini Error=$79.58 RMSLE=0.59 Hits=52.0%" in out  # the course's line, replayed
    assert (elsewhere / "wandb").is_dir()  # W&B offline, by default, where the commands ran
    _check_the_multirun(elsewhere, out)
    assert "Usage: pricebench [KEY=VALUE ...]" in proc.stdout  # --help


def _names(line: str) -> str:
    """``line`` with each absolute path cut to its last name (and a folder's "made by the first
    run": whether ``~/.cache/pricebench`` exists yet depends on the machine)."""
    line = line.replace(" (writable; made by the first run)", " (writable)")
    return re.sub(r"(/[^\s/;()\[\]]+)+", lambda m: m.group(0).rsplit("/", 1)[-1], line)


def _check_the_multirun(folder: Path, out: list[str]) -> None:
    """The sweep's leaderboard, printed and saved, ranks its two jobs by error (the course's
    constant $145.27 before random $340.74) and names the best job (formerly
    tests/test_sweeps.py's basic multirun)."""
    (day,) = (folder / "multirun").iterdir()
    (sweep,) = day.iterdir()
    text = "\n".join(out)
    assert "2 job(s) done, 0 failed" in text
    board = (sweep / "leaderboard.md").read_text()
    assert board in text
    ranked = [
        line.split("|")[2].strip() for line in board.splitlines() if line[:4] in ("| 1 ", "| 2 ")
    ]
    assert ranked == ["constant", "random"]
    assert read_json(sweep / "best.json")["overrides"][0] == "predictor=constant"
    assert "best: predictor=constant" in text
