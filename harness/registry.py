"""The registry of fine-tuning jobs (``results/finetunes.jsonl``), one JSON record per job.

``pricebench-finetune`` writes it (:func:`record_job`); the LLM predictor reads it to find a
fine-tuned model by suffix (:func:`find_job`). It lives in ``harness`` so both sides can import it
without ``predictors`` importing ``finetune``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import results
from harness.errors import PricebenchError


def read_registry(path: str | Path) -> list[dict[str, Any]]:
    """Every registered job, oldest first; none when the file does not exist. A line that is not
    a job record (an object with a ``job_id``) is one :class:`PricebenchError` naming it."""
    path = Path(path)
    if not path.is_file():
        return []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise PricebenchError(f"the job registry {path} cannot be read ({why})") from None
    rows: list[dict[str, Any]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            row, why = None, f"not JSON ({exc.msg})"
        else:
            why = "not a job record (an object with a job_id)"
        if not isinstance(row, dict) or not isinstance(row.get("job_id"), str):
            raise PricebenchError(
                f"the job registry {path}, line {number}: {why}; fix or delete that line"
            )
        rows.append(row)
    return rows


def record_job(path: str | Path, record: dict[str, Any]) -> None:
    """Add a job to the registry, or update the entry with the same job id."""
    rows = read_registry(path)
    for row in rows:
        if row["job_id"] == record["job_id"]:
            row.update({k: v for k, v in record.items() if v is not None})
            break
    else:
        rows.append(record)
    results.write_jsonl(path, rows)


def find_job(path: str | Path, suffix: str) -> dict[str, Any]:
    """The newest registered job with this suffix."""
    matches = [row for row in read_registry(path) if row.get("suffix") == suffix]
    if not matches:
        raise PricebenchError(
            f"no fine-tuning job with suffix {suffix!r} in {path}; create one with "
            "`pricebench-finetune`, or give its id: job_id=ftjob-..."
        )
    return matches[-1]
