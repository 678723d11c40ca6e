"""Hostile cases for the hub loader (issue 16): no data.path, no PRICEBENCH_DATA(_2025), and a
hub that cannot be reached, or a hub address its library cannot even start with, end at once in
one line that says how to go on, without the hub library's retries or a traceback.

(The 2024 edition's closed port, a silent server, data.train_path=hub and the offline flag are in
tests/test_hub_offline.py.)
"""

from __future__ import annotations

import socket

from tests.hostile.cases import Case


def _closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: bound, read, and closed again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# A newcomer's shell: no data setting (empty is unset: run_case sets PRICEBENCH_DATA to the
# shared data), no offline flag, no proxy, an empty hub cache.
NEWCOMER = {
    "PRICEBENCH_DATA": "",
    "PRICEBENCH_DATA_2025": "",
    "HF_HUB_OFFLINE": "",
    "HF_DATASETS_OFFLINE": "",
    "HF_HOME": "{tmp}/hf",
    **{name: "" for name in ("http_proxy", "https_proxy", "all_proxy")},
    **{name.upper(): "" for name in ("http_proxy", "https_proxy", "all_proxy")},
}

CASES = [
    Case(
        "hub-out-of-reach-2025-edition",
        0,
        "pricebench",
        ["data=items_lite", "quiet=true", "results.dir={tmp}/r"],
        r"^pricebench: error: cannot reach the Hugging Face hub to download ed-donner/items_lite "
        r"\(http://127\.0\.0\.1:\d+, from HF_ENDPOINT: ConnectError: .*Connection refused\); set "
        r"data\.path=DIR or PRICEBENCH_DATA_2025=DIR to local data in the 2025 schema, or "
        r"HF_HUB_OFFLINE=1 to use a copy downloaded before$",
        env={**NEWCOMER, "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"},
        timeout=30,
    ),
    Case(
        "hub-endpoint-breaks-the-hub-library",  # (was a traceback: ValueError on import)
        0,
        "pricebench",
        ["quiet=true", "results.dir={tmp}/r"],
        r"^pricebench: error: the Hugging Face hub library cannot start \(ValueError: Invalid "
        r"IPv6 URL\); fix the HF_\* environment variables \(.*HF_ENDPOINT.*\), or set "
        r"data\.path=DIR to local data$",
        env={**NEWCOMER, "HF_ENDPOINT": "http://[::1"},
        timeout=30,
    ),
]
