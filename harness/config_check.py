"""Config values checked when a config is composed, before anything is built: types and ranges,
each failure one line naming the key (``predictor.concurrency must be an integer ≥ 1, got 'abc'``).

A predictor's keys are checked against the type annotations of its ``_target_`` class's
``__init__`` (``int``, ``float``, ``bool``, ``str``, ``Optional``, ``Literal``, lists, tuples,
dicts; anything else is left to the class), and against the ranges declared here, in
:data:`RANGES`, the one place they are written. ``user_template`` is checked as a template: named
fields it may use, balanced braces, no attribute or index access. The top-level keys of
``conf/config.yaml`` are checked against :data:`TOP_LEVEL`.
"""

from __future__ import annotations

import collections.abc
import difflib
import importlib
import inspect
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from omegaconf import DictConfig, ListConfig, OmegaConf

from harness.errors import PricebenchError

__all__ = [
    "RANGES",
    "TOP_LEVEL",
    "Range",
    "check_config",
    "check_instance",
    "check_settings",
    "check_target",
    "check_value",
    "describe_type",
]


@dataclass(frozen=True)
class Range:
    """The values a number may take: at least ``low`` (above it when ``open_low``), at most
    ``high``."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False

    def holds(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.open_low else '≥'} {self.low:g}")
        if self.high is not None:
            parts.append(f"≤ {self.high:g}")
        return " and ".join(parts)


AT_LEAST_0 = Range(0)
AT_LEAST_1 = Range(1)
ABOVE_0 = Range(0, open_low=True)

_LLM = {
    "concurrency": AT_LEAST_1, "timeout": ABOVE_0, "max_retries": AT_LEAST_0,
    "circuit_breaker": AT_LEAST_0, "rate_limit_wait": AT_LEAST_0, "temperature": AT_LEAST_0,
    "max_tokens": AT_LEAST_1, "input_price": AT_LEAST_0, "output_price": AT_LEAST_0,
    "max_cost": AT_LEAST_0, "batch_price_factor": AT_LEAST_0, "batch_poll_seconds": ABOVE_0,
}  # fmt: skip
_WORD2VEC = {"vector_size": AT_LEAST_1, "window": AT_LEAST_1, "min_count": AT_LEAST_0,
             "epochs": AT_LEAST_1}  # fmt: skip

# The ranges of each predictor's numeric settings, by ``_target_`` (subclasses included).
RANGES: dict[str, dict[str, Range]] = {
    "predictors.llm.ChatPricer": _LLM,
    "predictors.baselines.ConstantPricer": {"value": AT_LEAST_0},
    "predictors.text.BagOfWordsLR": {"max_features": AT_LEAST_1},
    "predictors.text._Word2VecRegressor": _WORD2VEC,
    "predictors.text.Word2VecSVR": {"C": ABOVE_0, "max_iter": AT_LEAST_1},
    "predictors.text.Word2VecForest": {"n_estimators": AT_LEAST_1},
    "predictors.ensemble.Ensemble": {"folds": Range(2), "validation_size": Range(2)},
    # char_ngram_max ≥ char_ngram_min is checked by the predictor (a range of one setting here).
    "predictors.ridge.RidgePricer": {
        "alpha": ABOVE_0, "word_ngram_max": AT_LEAST_1, "char_ngram_min": AT_LEAST_1,
        "char_ngram_max": AT_LEAST_1, "char_weight": AT_LEAST_0, "n_features": AT_LEAST_1,
        "min_df": AT_LEAST_1,
    },
    "predictors.knn.KnnPricer": {
        "k": AT_LEAST_1, "power": AT_LEAST_0, "word_ngram_max": AT_LEAST_1,
        "char_ngram_min": AT_LEAST_1, "char_ngram_max": AT_LEAST_1, "char_weight": AT_LEAST_0,
        "n_features": AT_LEAST_1, "min_df": AT_LEAST_1,
    },
    "predictors.gbm.GbmPricer": {
        "n_components": AT_LEAST_0, "folds": Range(2), "ridge_alpha": ABOVE_0,
        "learning_rate": ABOVE_0, "max_iter": AT_LEAST_1, "max_leaf_nodes": Range(2),
        "min_samples_leaf": AT_LEAST_1, "l2_regularization": AT_LEAST_0, "blend": Range(0, 1),
        "n_threads": AT_LEAST_1, "knn_k": AT_LEAST_0, "knn_power": AT_LEAST_0,
        "stack_size": Range(2),
    },
    "predictors.rag.RagPricer": {
        "k": AT_LEAST_1, "tfidf_ngrams": Range(1, 5), "embedding_dimensions": AT_LEAST_1,
        "embedding_batch_size": Range(1, 2048), "embedding_price": AT_LEAST_0,
    },
}  # fmt: skip

# conf/config.yaml's own keys (dotted), with their types.
TOP_LEVEL: dict[str, Any] = {
    "name": str | None,
    "title": str | None,
    "quiet": bool,
    "progress": bool,
    "color": Literal["auto", "always", "never"],
    "chart": bool,
    "optimized_metric": str,
    "results.dir": str,
    "cache.dir": str,
    "cache.enabled": bool,
}
# Keys whose value is text a user types: a number there was most likely meant as text.
_TEXT_KEYS = ("name", "title")

# Predictor settings that are templates, checked as such (predictors.prompts.check_template).
_TEMPLATE_KEYS = ("user_template",)
_MISSING = object()


def check_config(cfg: DictConfig) -> None:
    """Raise :class:`~harness.errors.PricebenchError` naming the first key whose value is wrong:
    the top-level keys of ``conf/config.yaml``, then every key the predictor config sets."""
    for key, annotation in TOP_LEVEL.items():
        value = OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=False)
        if value is _MISSING:
            continue
        if key in _TEXT_KEYS and isinstance(value, int | float) and not isinstance(value, bool):
            raise PricebenchError(
                f"{key} must be text, got the number {value!r}: quote it, {key}=\"'{value}'\""
            )
        check_value(key, _plain(value), annotation)
    predictor = cfg.get("predictor")
    if isinstance(predictor, DictConfig):
        check_target(predictor, "predictor")


def _plain(value: Any) -> Any:
    if OmegaConf.is_config(value):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _target_class(node: DictConfig) -> type | None:
    target = node.get("_target_")
    if not isinstance(target, str) or "." not in target:
        return None
    module_name, _, name = target.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name, None)
    except Exception:  # not importable: building it reports that in one line
        return None
    return found if isinstance(found, type) else None


def _ranges(cls: type) -> dict[str, Range]:
    found: dict[str, Range] = {}
    for klass in reversed(cls.__mro__):
        found.update(RANGES.get(f"{klass.__module__}.{klass.__qualname__}", {}))
    return found


def _parameters(cls: type) -> tuple[dict[str, inspect.Parameter], dict[str, Any]] | None:
    """The parameters of ``cls.__init__`` (its own or the nearest inherited one) and their type
    hints; an ``__init__`` that passes ``**kwargs`` on also takes its parent's ``__init__``'s
    parameters (``rag``'s are its own and the chat predictor's). None when the annotations do
    not evaluate (nothing to check against)."""
    inits = [vars(k)["__init__"] for k in cls.__mro__ if "__init__" in vars(k) and k is not object]
    parameters: dict[str, inspect.Parameter] = {}
    hints: dict[str, Any] = {}
    for init in inits or [object.__init__]:
        try:
            signature = inspect.signature(init)
            found = typing.get_type_hints(init)
        except Exception:
            return None
        hints = {**found, **hints}  # the subclass's own hints win
        own = {n: p for n, p in signature.parameters.items() if n != "self"}
        passes_on = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in own.values())
        for name, parameter in own.items():
            if parameter.kind is not inspect.Parameter.VAR_KEYWORD or init is inits[-1]:
                parameters.setdefault(name, parameter)
        if not passes_on:
            break
    return parameters, hints


def check_target(node: DictConfig, prefix: str) -> None:
    """Check every key ``node`` sets against its ``_target_`` class's ``__init__``: the key is a
    parameter, its value has the annotated type and lies in the declared range."""
    cls = _target_class(node)
    found = None if cls is None else _parameters(cls)
    if cls is None or found is None:
        return
    parameters, hints = found
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    target = f"{cls.__module__}.{cls.__qualname__}"
    plain = OmegaConf.to_container(node, resolve=True)
    assert isinstance(plain, dict)
    settings: dict[str, Any] = {}
    for key, value in plain.items():
        key = str(key)
        if key.startswith("_"):
            continue
        if key not in parameters:
            if takes_any:
                continue
            close = difflib.get_close_matches(key, list(parameters), n=1)
            hint = (
                f"did you mean {prefix}.{close[0]}?"
                if close
                else f"its settings are {', '.join(parameters)}"
            )
            raise PricebenchError(f"{prefix}.{key} is not a setting of {target}: {hint}")
        settings[key] = value
    check_settings(cls, settings, prefix, hints)
    for key, value in node.items():
        _check_nested(value, f"{prefix}.{key!s}")


def _check_nested(value: Any, prefix: str) -> None:
    """Check the predictor configs nested in a setting (an ensemble's members: a mapping or a
    list of ``_target_`` configs), each under its own key."""
    if isinstance(value, DictConfig):
        if "_target_" in value:
            check_target(value, prefix)
            return
        for key, child in value.items():
            _check_nested(child, f"{prefix}.{key!s}")
    elif isinstance(value, ListConfig):
        for position, child in enumerate(value):
            _check_nested(child, f"{prefix}[{position}]")


def check_settings(
    cls: type, settings: dict[str, Any], prefix: str = "predictor", hints: Any = None
) -> None:
    """Check ``settings`` (parameter -> value) against ``cls.__init__``'s annotations and the
    ranges declared for ``cls``; a predictor built in Python checks its own settings so too."""
    if hints is None:
        found = _parameters(cls)
        if found is None:
            return
        hints = found[1]
    ranges = _ranges(cls)
    for key, value in settings.items():
        full = f"{prefix}.{key}"
        check_value(full, value, hints.get(key, Any), ranges.get(key))
        if key in _TEMPLATE_KEYS and isinstance(value, str):
            from predictors.prompts import check_template

            check_template(value, full)


def check_instance(obj: object, prefix: str = "predictor") -> None:
    """Check the current value of every ``__init__`` parameter of ``obj`` (kept as the attribute
    of that name) as a composed config's are checked, so a predictor built in Python fails with
    the same one line: ``predictor.alpha must be a number > 0, got -1``."""
    cls = type(obj)
    found = _parameters(cls)
    if found is None:
        return
    parameters, hints = found
    settings = {
        name: getattr(obj, name)
        for name, parameter in parameters.items()
        if parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and hasattr(obj, name)
    }
    check_settings(cls, settings, prefix, hints)


def check_value(key: str, value: Any, annotation: Any, limits: Range | None = None) -> None:
    """Raise the one line for ``key`` unless ``value`` is of type ``annotation`` and, if it is a
    number, within ``limits``."""
    fits = _fits(value, annotation)
    if fits and limits is not None and _is_number(value) and not limits.holds(value):
        fits = False
    if not fits:
        expected = describe_type(annotation, limits)
        raise PricebenchError(f"{key} must be {expected}, got {_shown(value)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _args(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _fits(value: Any, annotation: Any) -> bool:
    """Whether ``value`` (plain: from YAML or an override) has type ``annotation``; a type this
    does not know is taken as fitting (the class checks it)."""
    if annotation is Any or annotation is object:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    if _is_union(annotation):
        return any(_fits(value, arg) for arg in _args(annotation))
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in _args(annotation))
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return _is_number(value) and math.isfinite(value)
    if annotation is str:
        return isinstance(value, str)
    if origin in (list, tuple, collections.abc.Sequence) or annotation in (list, tuple):
        if not isinstance(value, list | tuple):
            return False
        args = [a for a in _args(annotation) if a is not Ellipsis]
        if origin is tuple and len(args) > 1:
            return len(value) == len(args) and all(map(_fits, value, args))
        return not args or all(_fits(v, args[0]) for v in value)
    if origin in (dict, collections.abc.Mapping) or annotation is dict:
        if not isinstance(value, dict):
            return False
        pair = _args(annotation)
        if len(pair) != 2:
            return True
        return all(_fits(k, pair[0]) and _fits(v, pair[1]) for k, v in value.items())
    return True


def describe_type(annotation: Any, limits: Range | None = None) -> str:
    """``annotation`` in words, for the error line: ``an integer ≥ 1``, ``one of zero, fail``,
    ``a number > 0 or null``."""
    if _is_union(annotation):
        kinds = [a for a in _args(annotation) if a is not type(None)]
        words = " or ".join(describe_type(a, limits) for a in kinds)
        return f"{words} or null" if len(kinds) < len(_args(annotation)) else words
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(
            a if isinstance(a, str) else _shown(a) for a in _args(annotation)
        )
    bound = f" {limits}" if limits is not None and str(limits) else ""
    if annotation is bool:
        return "true or false"
    if annotation is int:
        return f"an integer{bound}"
    if annotation is float:
        return f"a number{bound}"
    if annotation is str:
        return "text"
    if origin in (list, tuple, collections.abc.Sequence) or annotation in (list, tuple):
        args = [a for a in _args(annotation) if a is not Ellipsis]
        of = f" of {_plural(args[0])}" if len(set(args)) == 1 else ""
        return f"a list{of}"
    if origin in (dict, collections.abc.Mapping) or annotation is dict:
        return "a mapping"
    return getattr(annotation, "__name__", str(annotation))


def _plural(annotation: Any) -> str:
    return {str: "texts", int: "integers", float: "numbers", bool: "true/false values"}.get(
        annotation, describe_type(annotation)
    )
