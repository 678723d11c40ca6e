"""Keeps secrets inside the process: configs are redacted before they are stored or tracked."""

from __future__ import annotations

import os
import re
from typing import Any

REDACTED = "<redacted>"
SECRET_NAME = re.compile(
    r"(api[_-]?key|token|secret|password|passwd|credential|authorization)", re.IGNORECASE
)
SECRET_VALUE = re.compile(r"\b(sk-[A-Za-z0-9_-]{16,}|local-[A-Za-z0-9]{20,})")
SECRET_ENV = ("OPENAI_API_KEY", "WANDB_API_KEY", "HF_TOKEN", "ANTHROPIC_API_KEY")


def _env_secrets() -> list[str]:
    names = set(SECRET_ENV) | {k for k in os.environ if SECRET_NAME.search(k)}
    return [v for k in names if len(v := os.environ.get(k, "")) >= 8]


def redact(value: Any, _secrets: list[str] | None = None) -> Any:
    """A copy of ``value`` with every key named like a secret, and every secret-looking or
    environment-secret string, replaced by ``<redacted>``. Names of variables stay visible."""
    secrets = _env_secrets() if _secrets is None else _secrets
    if isinstance(value, dict):
        return {
            k: (
                REDACTED
                if SECRET_NAME.search(str(k)) and not _names_a_variable(str(k), v)
                else redact(v, secrets)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(v, secrets) for v in value)
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return SECRET_VALUE.sub(REDACTED, value)
    return value


def _names_a_variable(key: str, value: Any) -> bool:
    """``api_key_env: OPENAI_API_KEY`` names where the key is, which is no secret."""
    return key.lower().endswith(("_env", "_var", "_variable")) and (
        value is None
        or (isinstance(value, str) and re.fullmatch(r"[A-Z_][A-Z0-9_]*", value) is not None)
    )


def api_key_from_env(variable: str | None) -> str:
    """The API key held by environment variable ``variable`` (keys come only from there);
    ``None`` means the endpoint needs no key. A missing key is one clear error."""
    from harness.errors import PricebenchError

    if not variable:
        return "not-needed"  # a local endpoint such as Ollama takes any key
    key = os.environ.get(variable)
    if not key:
        raise PricebenchError(
            f"{variable} is not set: export {variable}=... (keys are read only from the "
            "environment), or name another variable with api_key_env"
        )
    return key
