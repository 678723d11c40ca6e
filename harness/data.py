"""Items, their loaders, the fixed test set and its fingerprint, for both editions of the course.

The 2024 edition's shapes: pricebench's JSONL (``test.jsonl``: index, title, category, price,
text, details), the Hugging Face hub schema of ``ed-donner/pricer-data`` (columns ``text`` and
``price``; through the optional ``datasets`` library) and the course's own pickles (``test.pkl``,
``train.pkl``) through a restricted unpickler.

The 2025 edition's schema (``ed-donner/items_lite``/``items_full``; ed-donner/llm_engineering
``week6/pricer/items.py``): rows of ``title, category, price, full, weight, summary, prompt, id``
whose ``prompt`` is a *training* prompt ending with the answer (``...\n\nPrice is $227.00``). Its
test prompt is the course's ``Item.test_prompt()``: ``prompt.split("Price is $")[0] + "Price is
$"``, and the ``summary`` is the description the LLM predictors and text baselines read (the
course's ``messages_for`` and its NLP baselines use ``item.summary``). Read from JSONL or parquet
files, or from the hub. Neither the test prompt nor the description ever holds the answer.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import os
import pickle
import random
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import PricebenchError, first_line
from harness.paths import ROOT

PRICE_PREFIX = "Price is $"
QUESTION = "How much does this cost to the nearest dollar?"
HUB_DATASET = "ed-donner/pricer-data"
CANONICAL_SIZE = 250
# sha256 over the course's fixed 250 test items (text and price, in order): see fingerprint().
CANONICAL_FINGERPRINT = "11fdbb90c91fb0940945cc141eb77804a455f629f24276c40d37c00a798688b6"

# The editions of the course: 2024 (pricer-data, the first 250 test items) and 2025 (items_lite /
# items_full, whose Tester scores the first 200 test items).
EDITIONS = ("2024", "2025")
EDITION_SIZES = {"2024": CANONICAL_SIZE, "2025": 200}
# The fixed test set's fingerprint per edition, when it is known. The 2025 edition's cannot be
# computed here (its data is only on the hub, never downloaded by pricebench's tests), so a 2025
# run is never marked canonical: it is marked edition 2025 and carries its fingerprint, which
# tells runs over the same 200 items apart from others.
CANONICAL_FINGERPRINTS: dict[str, str] = {"2024": CANONICAL_FINGERPRINT}
QUESTION_2025 = "What does this cost to the nearest dollar?"
COLUMNS_2025 = ("title", "category", "price", "full", "weight", "summary", "prompt", "id")
HUB_2025 = "ed-donner/items_lite"
DATA_ENV = {"2024": "PRICEBENCH_DATA", "2025": "PRICEBENCH_DATA_2025"}
HOW_TO_GET_DATA = (
    "set data.path=DIR (or PRICEBENCH_DATA=DIR) to a folder holding test.jsonl, test.pkl or "
    "test.parquet{example}, or leave both unset to download "
    f"{HUB_DATASET} from the Hugging Face hub (needs `pip install pricebench[hub]`)"
)


@dataclass(slots=True)
class Item:
    """One product: the prompt text a predictor sees and the true price it is scored against."""

    index: int
    title: str
    price: float
    text: str
    category: str | None = None
    details: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Where it was read, for messages: ``file:line``, ``file: item N`` or ``source: row N``.
    origin: str = field(default="", compare=False, repr=False)
    # What LLM prompts and text baselines read, when not the test prompt (2025: the summary).
    description: str | None = None
    edition: str = "2024"  # the course edition whose schema the item was read from

    @property
    def body(self) -> str:
        """The text a text baseline reads: the description when the item has one, else the
        test prompt."""
        return self.text if self.description is None else self.description


@dataclass(slots=True)
class Dataset:
    """What one run scores and trains on, and what it says about where they came from."""

    test: list[Item]
    source: str
    fingerprint: str
    canonical: bool
    train: list[Item] = field(default_factory=list)
    train_source: str = ""
    train_dropped_overlap: int = 0
    edition: str = "2024"
    split: str = "test"  # "validation": ``test`` is held out of the training pool (tuning)


SPLITS = ("test", "validation")


def test_prompt(text: str) -> str:
    """The prompt without its answer: everything up to and including ``Price is $``."""
    head, sep, _ = text.partition(PRICE_PREFIX)
    return head + PRICE_PREFIX if sep else text


def test_prompt_2025(prompt: str) -> str:
    """The 2025 edition's ``Item.test_prompt()``: ``prompt.split("Price is $")[0] + "Price is $"``
    (ed-donner/llm_engineering ``week6/pricer/items.py``): everything before the first ``Price is
    $``, so the answer after it is never part of the test prompt."""
    return prompt.split(PRICE_PREFIX)[0] + PRICE_PREFIX


def description_2025(summary: str | None, text: str) -> str:
    """What a 2025 item's LLM prompt and text baselines read: its ``summary`` (the course's
    ``messages_for``), or without one the test prompt's body; cut before any ``Price is $``."""
    if summary is None or not summary.strip():
        body = text.split(QUESTION_2025, 1)[1] if QUESTION_2025 in text else text
    else:
        body = summary
    return body.split(PRICE_PREFIX)[0].strip()


def title_from_text(text: str) -> str:
    """The first line of the description, after the course's question."""
    body = text.split(QUESTION, 1)[1] if QUESTION in text else text
    for line in body.splitlines():
        if line.strip():
            return line.strip()
    return ""


def fingerprint(items: Iterable[Item]) -> str:
    """sha256 over the ordered items' text and price."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(item.text.encode("utf-8"))
        digest.update(b"\x00")
        digest.update(repr(float(item.price)).encode("ascii"))
        digest.update(b"\n")
    return digest.hexdigest()


def _price(value: Any, where: str) -> float:
    """A price as a finite float: a number or a numeric string; anything else is refused."""
    try:
        if isinstance(value, bool):  # (float(True) is 1.0)
            raise TypeError
        price = float(value)
    except (TypeError, ValueError):
        raise PricebenchError(
            f"{where}: price {value!r} is not a number; fix or remove that item"
        ) from None
    if math.isnan(price):
        raise PricebenchError(f"{where}: price NaN is not a number; fix or remove that item")
    if math.isinf(price):
        shown = repr(value) if isinstance(value, str) else ("-" if price < 0 else "") + "Infinity"
        raise PricebenchError(
            f"{where}: price {shown} is infinite; every price must be a finite number"
        )
    return price


def _index(value: Any, where: str) -> int:
    """An item's index: a whole number (``3``, ``3.0``, ``"3"``), never a bool or a fraction."""
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise PricebenchError(f"{where}: index {value!r} is not a whole number") from None


def decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line of a UTF-8 file (a leading byte-order mark is
    dropped); bytes that are not UTF-8 are one :class:`PricebenchError` naming the line."""
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, 1):
            try:
                text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise PricebenchError(not_utf8(path, lineno, raw, exc.start)) from None
            yield lineno, text


def not_utf8(path: Path | str, lineno: int, line: bytes, start: int) -> str:
    """The message for line ``lineno`` (``line``, bytes) whose byte ``start`` is not UTF-8."""
    column = len(line[:start].decode("utf-8", errors="replace")) + 1
    return (
        f"{path}:{lineno}: not UTF-8 text (byte 0x{line[start]:02x} at column {column}); "
        "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
    )


# --- pricebench JSONL -------------------------------------------------------------------------


def _read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for lineno, line in decoded_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PricebenchError(
                f"{path}:{lineno}: malformed JSON ({exc.msg}); fix or remove that line"
            ) from None
        if not isinstance(row, dict):
            raise PricebenchError(f"{path}:{lineno}: expected a JSON object per line")
        rows.append((lineno, row))
    return rows


def is_2025_columns(columns: Iterable[str]) -> bool:
    """Whether rows with these columns are in the 2025 edition's schema: a ``prompt`` or a
    ``summary``, and no ``text``."""
    names = set(columns)
    return "text" not in names and bool(names & {"prompt", "summary"})


def _text_field(value: Any, name: str, where: str, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise PricebenchError(f"{where}: {name} {_short(value)} is not text")
    return value


def item_2025(row: dict[str, Any], position: int, where: str) -> Item:
    """One item from a row of the 2025 schema (``title, category, price, full, weight, summary,
    prompt, id``): the test prompt cut after ``Price is $``, the summary as its description."""
    missing = [key for key in ("title", "price", "prompt") if row.get(key) is None]
    if missing:
        raise PricebenchError(
            f"{where}: missing field(s) {', '.join(missing)} (the 2025 schema: "
            f"{', '.join(COLUMNS_2025)})"
        )
    prompt = _text_field(row["prompt"], "prompt", where)
    summary = _text_field(row.get("summary"), "summary", where, required=False)
    category = _text_field(row.get("category"), "category", where, required=False)
    assert prompt is not None
    text = test_prompt_2025(prompt)
    extra: dict[str, Any] = {}
    weight = row.get("weight")
    if isinstance(weight, int | float) and not isinstance(weight, bool) and math.isfinite(weight):
        extra["weight"] = float(weight)
    if row.get("id") is not None:
        extra["id"] = row["id"]
    return Item(
        index=position,
        title=str(row["title"]),
        price=_price(row["price"], where),
        text=text,
        category=category,
        extra=extra,
        origin=where,
        description=description_2025(summary, text),
        edition="2025",
    )


def load_jsonl(path: str | Path) -> list[Item]:
    """Items from pricebench's JSONL schema (or, when rows carry only text and price, the hub's;
    or, when they carry a prompt and no text, the 2025 edition's)."""
    path = Path(path)
    rows = _read_jsonl(path)
    if rows and is_2025_columns(rows[0][1]):
        return [item_2025(row, n, f"{path}:{lineno}") for n, (lineno, row) in enumerate(rows)]
    if rows and "title" not in rows[0][1] and {"text", "price"} <= rows[0][1].keys():
        return load_hub(path)
    items = []
    for position, (lineno, row) in enumerate(rows):
        where = f"{path}:{lineno}"
        missing = [key for key in ("title", "price", "text") if key not in row]
        if missing:
            raise PricebenchError(f"{where}: missing field(s) {', '.join(missing)}")
        details = row.get("details")
        if isinstance(details, str):
            details = _details_from_json(details, where)
        elif details is not None and not isinstance(details, dict):
            raise PricebenchError(
                f"{where}: details {_short(details)} is not an object; give a JSON object of the "
                "product's attributes, or null"
            )
        category = row.get("category")
        if category is not None and not isinstance(category, str):
            raise PricebenchError(f"{where}: category {_short(category)} is not text (or null)")
        items.append(
            Item(
                index=_index(row.get("index", position), where),
                title=str(row["title"]),
                price=_price(row["price"], where),
                text=test_prompt(str(row["text"])),
                category=category,
                details=details,
                origin=where,
            )
        )
    return items


def _short(value: Any, width: int = 40) -> str:
    shown = repr(value)
    return shown if len(shown) <= width else shown[:width] + "..."


def _details_from_json(text: str, where: str) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise PricebenchError(f"{where}: details is not valid JSON") from None
    return value if isinstance(value, dict) else None


# --- the course's pickles ---------------------------------------------------------------------


class CourseItem:
    """Stand-in for the course's ``items.Item``: attributes only, no behaviour to run."""


class _CourseUnpickler(pickle.Unpickler):
    allowed = {("items", "Item"): CourseItem}

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise PricebenchError(
                f"refusing to load {self.source}: it refers to {module}.{name}, and only the "
                "course's items.Item is allowed (a pickle can run code; use test.jsonl instead)"
            ) from None

    source = "pickle"


def load_pickle(path: str | Path) -> list[Item]:
    """Items from the course's ``test.pkl``/``train.pkl``, refusing anything but its Item class."""
    path = Path(path)
    with path.open("rb") as handle:
        unpickler = _CourseUnpickler(handle)
        unpickler.source = str(path)
        try:
            loaded = unpickler.load()
        except PricebenchError:
            raise
        except Exception as exc:
            raise PricebenchError(f"{path}: not a readable course pickle ({exc})") from None
    if not isinstance(loaded, list) or not all(isinstance(x, CourseItem) for x in loaded):
        raise PricebenchError(f"{path}: expected a list of the course's items.Item objects")
    items = []
    for position, course_item in enumerate(loaded):
        attrs = vars(course_item)
        where = f"{path}: item {position}"
        if "price" not in attrs or "prompt" not in attrs:
            raise PricebenchError(f"{where}: missing price or prompt")
        details = attrs.get("details")
        items.append(
            Item(
                index=position,
                title=str(attrs.get("title") or title_from_text(attrs["prompt"])),
                price=_price(attrs["price"], where),
                text=test_prompt(str(attrs["prompt"])),
                category=attrs.get("category"),
                details=_details_from_json(details, where) if isinstance(details, str) else None,
                origin=where,
            )
        )
    return items


# --- the Hugging Face hub schema --------------------------------------------------------------


NO_DATASETS = (
    "the Hugging Face `datasets` library is not installed: `pip install pricebench[hub]`, "
    "or point data.path at local files"
)
# How long the hub has to answer one request before a run gives up on it (connect and read).
HUB_PROBE_TIMEOUT = 3.0
_HUB_REACHED: set[str] = set()  # the endpoints that answered, in this process


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise PricebenchError(NO_DATASETS) from None
    return datasets


def _hub_constants() -> Any:
    """``huggingface_hub.constants`` (light: not the client), whose import reads the ``HF_*``
    settings and can fail on one (``HF_ENDPOINT=http://[::1``): one line naming them."""
    try:
        from huggingface_hub import constants
    except ImportError:
        raise PricebenchError(NO_DATASETS) from None
    except Exception as exc:
        names = ", ".join(sorted(name for name in os.environ if name.startswith("HF_")))
        raise PricebenchError(  # (names only: HF_TOKEN's value is a secret)
            f"the Hugging Face hub library cannot start ({first_line(exc)}); fix the HF_* "
            f"environment variables ({names or 'none is set'}), or set data.path=DIR to local data"
        ) from None
    return constants


def _hub_offline() -> bool:
    """Whether ``datasets`` stays off the network and reads its cache: ``HF_DATASETS_OFFLINE``
    when set, else ``HF_HUB_OFFLINE`` (as ``datasets.config`` reads them when it is imported,
    which a run does only after this; its own value when it is imported already)."""
    config = sys.modules.get("datasets.config")
    if config is not None:
        return bool(config.HF_HUB_OFFLINE)
    flag = os.environ.get("HF_DATASETS_OFFLINE")
    if flag is None:
        return bool(_hub_constants().HF_HUB_OFFLINE)
    return flag.upper() in {"1", "ON", "YES", "TRUE"}


def hub_unreachable(endpoint: str, timeout: float = HUB_PROBE_TIMEOUT) -> str | None:
    """Why the hub at ``endpoint`` cannot be reached, in a few words, or None when it answers a
    HEAD request within ``timeout`` seconds (any answer but a gateway's 502-504: the hub is
    there). Asked through
    huggingface_hub's own client (``get_session``), so the proxies and certificates the download
    would use apply; in a thread waited for ``timeout`` seconds, because looking the host up has
    no timeout of its own."""
    from huggingface_hub import get_session

    outcome: list[str | None] = []

    def ask() -> None:
        try:
            status = get_session().head(endpoint, timeout=timeout).status_code
            # (what a proxy or the hub's front answers when the hub is not serving: the download
            # would retry it for half a minute)
            outcome.append(f"HTTP {status}, not serving" if status in (502, 503, 504) else None)
        except Exception as exc:  # (httpx2's ConnectError, timeouts, a malformed URL...)
            slow = "Timeout" in type(exc).__name__
            outcome.append(f"no answer in {timeout:g} s" if slow else first_line(exc))

    thread = threading.Thread(target=ask, name="pricebench-hub-probe", daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return outcome[0] if outcome else f"no answer in {timeout:g} s"


def _shared_data() -> Path | None:
    """This checkout's benchmark data (``../shared/data/pricer`` beside it), as an absolute path
    that works from any folder, when it is there."""
    shared = ROOT.parent / "shared" / "data" / "pricer"
    return shared if shared.is_dir() else None


def _local_data_example() -> str:
    """Where this checkout's benchmark data is, or what such a folder holds, when there is none."""
    shared = _shared_data()
    return (
        "a folder holding test.jsonl, test.pkl or test.parquet"
        if shared is None
        else f"local data, e.g. {shared}"
    )


def check_hub(source: str, edition: str = "2024", split: str = "test") -> None:
    """Before downloading ``source``'s ``split``: refuse at once, in one line, when the hub
    cannot be reached (rather than after the hub library's half-minute of retries). With
    ``HF_HUB_OFFLINE=1`` (or ``HF_DATASETS_OFFLINE=1``) nothing is asked: ``datasets`` reads a
    copy downloaded before."""
    if importlib.util.find_spec("datasets") is None:
        raise PricebenchError(NO_DATASETS)
    constants = _hub_constants()
    if _hub_offline():
        return
    # HF_ENDPOINT, read when huggingface_hub is imported (https://huggingface.co/docs/
    # huggingface_hub/package_reference/environment_variables): the address it downloads from.
    endpoint = constants.ENDPOINT
    if endpoint in _HUB_REACHED:
        return
    reason = hub_unreachable(endpoint)
    if reason is None:
        _HUB_REACHED.add(endpoint)
        return
    where = endpoint + (", from HF_ENDPOINT" if os.environ.get("HF_ENDPOINT") else "")
    if split == "train":  # (the test split came from elsewhere: data.train_path=hub)
        local = "data.train_path=DIR to local training data"
    elif edition == "2025":
        local = f"data.path=DIR or {DATA_ENV['2025']}=DIR to local data in the 2025 schema"
    else:
        local = f"data.path=DIR or {DATA_ENV['2024']}=DIR to {_local_data_example()}"
    raise PricebenchError(
        f"cannot reach the Hugging Face hub to download {source} ({where}: {reason}); set "
        f"{local}, or HF_HUB_OFFLINE=1 to use a copy downloaded before"
    )


# Each library's logger and the variable that sets its level (its default: WARNING):
# https://huggingface.co/docs/huggingface_hub/package_reference/environment_variables
# (HF_HUB_VERBOSITY), https://huggingface.co/docs/datasets/package_reference/utilities
# (DATASETS_VERBOSITY).
HUB_LOGGERS = {"huggingface_hub": "HF_HUB_VERBOSITY", "datasets": "DATASETS_VERBOSITY"}


@contextmanager
def quiet_hub_logs() -> Iterator[None]:
    """Keep the hub libraries' warnings (one per retried request, say) off the terminal while
    they load, errors still shown, unless the user set the library's verbosity variable.
    huggingface_hub and datasets each give their logger a stderr handler of its own and the
    level WARNING when they are imported, which a run does after Hydra applied
    ``hydra.job_logging``: the config's level for them is overwritten."""
    loggers = [
        logging.getLogger(name) for name, env in HUB_LOGGERS.items() if env not in os.environ
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.ERROR))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def load_hub(
    source: str | Path = HUB_DATASET,
    split: str = "test",
    cache_dir: str | None = None,
    edition: str = "2024",
) -> list[Item]:
    """Items in the hub schema (``text``, ``price``; or the 2025 edition's) from a hub dataset or
    a local parquet/JSONL file; ``edition`` only words the message when it cannot be loaded."""
    path = Path(source)
    if not path.is_file():
        check_hub(str(source), edition, split)
    datasets = _import_datasets()
    try:
        if path.is_file():  # a local file: no download to show progress of
            builder = "parquet" if path.suffix == ".parquet" else "json"
            datasets.disable_progress_bars()
            try:
                table = datasets.load_dataset(
                    builder, data_files=str(path), split="train", cache_dir=cache_dir
                )
            finally:
                datasets.enable_progress_bars()
        else:
            with quiet_hub_logs():
                table = datasets.load_dataset(str(source), split=split, cache_dir=cache_dir)
    except Exception as exc:  # the hub library raises many kinds; all mean "could not load"
        raise PricebenchError(
            f"could not load {source} ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            + (
                f"set data.path=DIR or {DATA_ENV['2025']}=DIR to local data in the 2025 schema"
                if edition == "2025"
                else f"set data.path=DIR or PRICEBENCH_DATA=DIR to {_local_data_example()}"
            )
        ) from None
    columns = set(table.column_names)
    if is_2025_columns(columns):
        return [item_2025(row, n, f"{source}: row {n}") for n, row in enumerate(table)]
    missing = {"text", "price"} - columns
    if missing:
        raise PricebenchError(
            f"{source}: missing column(s) {', '.join(sorted(missing))} (the 2024 schema has text "
            f"and price; the 2025 schema has {', '.join(COLUMNS_2025)})"
        )
    items = []
    for position, row in enumerate(table):
        text = str(row["text"])
        where = f"{source}: row {position}"
        items.append(
            Item(
                index=position,
                title=title_from_text(text),
                price=_price(row["price"], where),
                text=test_prompt(text),
                origin=where,
            )
        )
    return items


# --- finding and assembling the data of a run -------------------------------------------------

LOADERS: dict[str, Callable[[Path], list[Item]]] = {
    ".jsonl": load_jsonl, ".json": load_jsonl, ".pkl": load_pickle, ".parquet": load_hub,
}  # fmt: skip


def load_items(path: str | Path) -> list[Item]:
    """Items from one file, the loader chosen by the file's ending."""
    path = Path(path)
    loader = LOADERS.get(path.suffix)
    if loader is None:
        raise PricebenchError(
            f"{path}: unknown data file type {path.suffix!r}; use .jsonl, .pkl or .parquet"
        )
    return loader(path)


def _find(folder: Path, stem: str) -> Path | None:
    for suffix in (".jsonl", ".pkl", ".parquet"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def how_to_get_data(edition: str = "2024") -> str:
    """How to point pricebench at an edition's data (the end of a message)."""
    if edition == "2025":
        return (
            f"set data.path=DIR (or {DATA_ENV['2025']}=DIR) to a folder holding test.jsonl or "
            "test.parquet in the 2025 schema (" + ", ".join(COLUMNS_2025) + "), or leave both "
            "unset to download data.hub (ed-donner/items_lite or items_full) from the Hugging "
            "Face hub (needs `pip install pricebench[hub]`)"
        )
    shared = _shared_data()
    return HOW_TO_GET_DATA.format(example="" if shared is None else f", e.g. {shared}")


def resolve_test_file(path: str | Path | None, edition: str = "2024") -> Path | None:
    """The test file that data.path names; None means the hub. Without a path, the 2024 edition
    reads ``PRICEBENCH_DATA``; the 2025 edition does not (it points at the 2024 data), its
    configs read ``PRICEBENCH_DATA_2025`` themselves."""
    if path in (None, "") and edition == "2024":
        path = os.environ.get(DATA_ENV["2024"]) or None
    if path in (None, ""):
        return None
    path = Path(path).expanduser()
    if path.is_dir():
        found = _find(path, "test")
        if found is None:
            raise PricebenchError(
                f"{path} holds no test.jsonl, test.pkl or test.parquet; " + how_to_get_data(edition)
            )
        return found
    if not path.exists():
        raise PricebenchError(f"data path {path} does not exist; " + how_to_get_data(edition))
    return path


def check_edition(items: Sequence[Item], edition: str, source: str, what: str = "test") -> None:
    """Refuse items in another edition's schema than the config's: a 2024 run over 2025 rows (or
    the other way round) would score the wrong set under the wrong name."""
    found = items[0].edition if items else edition
    if found == edition:
        return
    if edition == "2024":
        raise PricebenchError(
            f"{source} holds {what} items in the 2025 edition's schema (summary, prompt); "
            "use data=items_lite (or data=items_full) with data.path pointing there"
        )
    raise PricebenchError(
        f"{source} holds {what} items in the 2024 edition's schema (text), not the 2025 one "
        f"({', '.join(COLUMNS_2025)}); use data=pricer for it, or point data.path (or "
        f"{DATA_ENV['2025']}) at 2025-edition data"
    )


def check_test_items(items: Sequence[Item], source: str) -> None:
    """Refuse a test set that cannot be scored: no items, a price not above 0 (or not finite), or
    an index given twice (a recording is matched to the items by index)."""
    if not items:
        raise PricebenchError(f"{source} holds no items")
    first_at: dict[int, Item] = {}
    for position, item in enumerate(items):
        where = item.origin or f"{source}: test item {position}"
        if not (item.price > 0 and math.isfinite(item.price)):
            raise PricebenchError(
                f"{where}: price {item.price:.15g} is not above 0 ({item.title[:40]!r}); "
                "every test price must be a finite number above 0"
            )
        earlier = first_at.setdefault(item.index, item)
        if earlier is not item:
            first = earlier.origin.rpartition(":")[2] if earlier.origin else ""
            seen = f"first on line {first}" if first.isdigit() else f"first at {earlier.origin}"
            raise PricebenchError(
                f"{where}: index {item.index} again ({seen}); every test item needs its own index"
            )


def drop_overlap(train: Sequence[Item], test: Sequence[Item]) -> tuple[list[Item], int]:
    """Training items whose text is not a test item's text, and how many were dropped."""
    test_texts = {item.text for item in test}
    kept = [item for item in train if item.text not in test_texts]
    return kept, len(train) - len(kept)


def _load_train(
    test_file: Path | None,
    all_test: Sequence[Item],
    size: int,
    hub: str,
    cache_dir: str | None,
    train_path: str | None,
    test_pool: bool,
    edition: str = "2024",
) -> tuple[list[Item], str]:
    if train_path == "hub" or (train_path is None and test_file is None):
        return load_hub(hub, "train", cache_dir, edition), f"hub:{hub}[train]"
    if train_path is not None:
        path = Path(train_path).expanduser()
        if not path.exists():
            raise PricebenchError(f"training data {path} does not exist; fix data.train_path")
        found = _find(path, "train") if path.is_dir() else path
        if found is None:
            raise PricebenchError(f"{path} holds no train.jsonl, train.pkl or train.parquet")
        return load_items(found), str(found)
    assert test_file is not None
    folder = test_file.parent
    found = _find(folder, "train")
    if found is not None:
        return load_items(found), str(found)
    train: list[Item] = []
    parts = []
    sample = folder / "train_sample.jsonl"
    if sample.is_file() and edition == "2024":  # (the 2024 course's sample, in its schema)
        train += load_jsonl(sample)
        parts.append(str(sample))
    start = max(size, EDITION_SIZES.get(edition, CANONICAL_SIZE))
    if test_pool and len(all_test) > start:
        train += all_test[start:]
        parts.append(f"{test_file}[{start}:{len(all_test)}]")
    return train, " + ".join(parts)


def load_dataset(
    path: str | None = None,
    size: int | None = None,
    hub: str | None = None,
    cache_dir: str | None = None,
    train_path: str | None = None,
    train_size: int | None = None,
    test_pool: bool = True,
    need_train: bool = True,
    drop_test_overlap: bool = True,
    edition: str = "2024",
    split: str = "test",
    validation_size: int = 400,
    validation_seed: int = 42,
) -> Dataset:
    """The run's test items (the first ``size``), fingerprint, and training items when needed.

    ``edition`` is the course edition whose data this is: ``"2024"`` (pricer-data; ``size``
    defaults to 250) or ``"2025"`` (items_lite/items_full; ``size`` defaults to 200); items in the
    other edition's schema are refused. ``path`` is a file or a folder (2024 default:
    ``PRICEBENCH_DATA``; neither: the hub dataset ``hub``). Training items come from
    ``train_path``, else a train file beside the test data, else (offline, 2024 only)
    ``train_sample.jsonl``, plus the test rows after the fixed set. Any training item whose text
    equals a test item's is dropped and counted.

    ``split="validation"`` is for tuning: the run scores ``validation_size`` items drawn (with
    ``validation_seed``) from that training pool and trains on the rest, so the fixed test set's
    prices are never used (its texts still keep its items out of the pool).
    """
    edition = str(edition)
    if edition not in EDITIONS:
        raise PricebenchError(
            f"data.edition must be one of {', '.join(EDITIONS)}, not {edition!r} "
            "(data=pricer is 2024; data=items_lite and data=items_full are 2025)"
        )
    if split not in SPLITS:
        raise PricebenchError(
            f"data.split must be one of {', '.join(SPLITS)}, not {split!r} (validation: score "
            "items held out of the training pool, for tuning without the fixed test set)"
        )
    if size is None:
        size = EDITION_SIZES[edition]
    if hub is None:
        hub = HUB_DATASET if edition == "2024" else HUB_2025
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise PricebenchError(f"data.size must be a positive number of items, not {size!r}")
    if train_size is not None and (
        isinstance(train_size, bool) or not isinstance(train_size, int) or train_size < 1
    ):
        raise PricebenchError(
            f"data.train_size must be a positive number of items (or null for all), "
            f"not {train_size!r}"
        )
    test_file = resolve_test_file(path, edition)
    if test_file is None:
        check_hub(hub, edition)  # (no network: that one line, before the notice)
        print(
            f"no data.path or {DATA_ENV[edition]}: loading {hub} from the Hugging Face hub",
            file=sys.stderr,
        )
        all_test = load_hub(hub, "test", cache_dir, edition)
        source = f"hub:{hub}[test]"
    else:
        all_test = load_items(test_file)
        source = str(test_file)
    check_edition(all_test, edition, source)
    if len(all_test) < size:
        raise PricebenchError(
            f"{source} holds {len(all_test)} items but data.size={size}; lower data.size"
        )
    test = list(all_test[:size])
    check_test_items(all_test if test_file is not None else test, source)
    digest = fingerprint(test)
    known = CANONICAL_FINGERPRINTS.get(edition)
    dataset = Dataset(test, source, digest, digest == known, edition=edition)
    if need_train or split == "validation":
        train, dataset.train_source = _load_train(
            test_file, all_test, size, hub, cache_dir, train_path, test_pool, edition
        )
        check_edition(train, edition, dataset.train_source, "training")
        if drop_test_overlap:  # (fine-tuning keeps them, to refuse the leak loudly)
            train, dataset.train_dropped_overlap = drop_overlap(train, test)
        if split == "validation":
            return _validation_split(dataset, train, validation_size, validation_seed, train_size)
        dataset.train = train[:train_size] if train_size else train
    return dataset


def _validation_split(
    dataset: Dataset, pool: list[Item], size: int, seed: int, train_size: int | None
) -> Dataset:
    """``size`` items of the training ``pool``, drawn with ``seed`` and kept in pool order, to
    score; the rest (the first ``train_size`` of them) to train on. Items are drawn by text: an
    item held out takes every copy of its text with it (the pool holds a few), so nothing scored
    was trained on."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise PricebenchError(f"data.validation_size must be a positive number, not {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise PricebenchError(f"data.validation_seed must be an integer, not {seed!r}")
    texts = list(dict.fromkeys(item.text for item in pool))  # a text's copies go one way
    if size >= len(texts):
        raise PricebenchError(
            f"data.validation_size={size} leaves no training items: the pool "
            f"({dataset.train_source}) holds {len(texts)} different items; lower "
            "data.validation_size"
        )
    held = set(random.Random(seed).sample(texts, size))
    scored = list({item.text: item for item in reversed(pool) if item.text in held}.values())[::-1]
    rest = [item for item in pool if item.text not in held]
    return Dataset(
        scored,
        f"validation split of {dataset.train_source} ({size} items, seed {seed})",
        fingerprint(scored),
        False,
        train=rest[:train_size] if train_size else rest,
        train_source=f"{dataset.train_source} less the validation split",
        train_dropped_overlap=dataset.train_dropped_overlap,
        edition=dataset.edition,
        split="validation",
    )
