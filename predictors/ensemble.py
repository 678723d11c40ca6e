"""A stacked ensemble: member predictors blended with non-negative weights fitted on the training
pool's out-of-fold predictions (cross-fitting), never on the test items.

How it fits, for ``folds`` K and ``seed``:

1. The pool is split into K folds at random (``seed``); the weights are fitted on the pool items
   of a validation sample (``validation_size`` of them, seeded; all of the pool by default).
2. A member that learns from the pool (``requires_fit``) is fitted K times, each time on the pool
   without fold k, and predicts the validation items of fold k: no item's prediction comes from a
   model that saw it. A member that learns nothing (an LLM) predicts the validation items itself,
   through its own ``predict``, so its response cache and cost guard apply.
3. The weights minimise the mean absolute error (the headline metric) of ``sum_j w_j * guess_j``
   over the validation items, with every ``w_j >= 0`` and no other constraint: a linear programme
   (``scipy.optimize.linprog``, HiGHS), the least-absolute-deviations fit with non-negative
   coefficients. They need not sum to 1: a blend may shrink or stretch its members' guesses.
4. The blend's own error out of fold is measured by fitting the weights on K-1 folds of the
   validation items and scoring them on the remaining one; when that is not below the best
   member's out-of-fold error (``fallback``), the best member is kept alone (weight 1).
5. Every member is then fitted on the whole pool, and the test guesses are the blend of theirs.

A member that learns nothing is asked for the validation items and the test items in one call
(on the first ``predict``, when the test items are known), so its cost guard weighs both before
anything is paid; a member with ``max_cost`` that is called more than once (an LLM that learns
from the pool is cross-fitted) is given, each time, what its earlier calls left of it.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.data import Item
from harness.errors import PricebenchError
from harness.predictor import (
    Prediction,
    PredictorBase,
    check_fitted,
    notes_of,
    requires_fit,
    run_summary_of,
)

__all__ = ["Ensemble", "mae_weights"]

# The figures of a member's run summary (an LLM's) that add up over its calls.
SUMMED = ("requests", "cache_hits", "retries", "failed", "unparseable", "cut_off",
          "input_tokens", "output_tokens", "cost")  # fmt: skip


def mae_weights(guesses: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """The non-negative weights ``w`` minimising ``mean(|truths - guesses @ w|)``.

    A linear programme over ``w`` and each item's error split in its positive and negative
    parts ``e+``, ``e-`` (both ≥ 0): minimise ``sum(e+ + e-)`` subject to
    ``guesses @ w + e+ - e- = truths`` (scipy.optimize.linprog with the HiGHS solver,
    https://docs.scipy.org/doc/scipy/reference/generated/scipy.optimize.linprog.html)."""
    from scipy import sparse
    from scipy.optimize import linprog

    n, m = guesses.shape
    identity = sparse.identity(n, format="csr")
    constraints = sparse.hstack([sparse.csr_matrix(guesses), identity, -identity], format="csr")
    cost = np.concatenate([np.zeros(m), np.ones(2 * n)])
    found = linprog(cost, A_eq=constraints, b_eq=truths, bounds=(0, None), method="highs")
    if not found.success:  # (never seen: the problem is always feasible and bounded)
        raise PricebenchError(f"the ensemble's weights could not be fitted: {found.message}")
    weights: np.ndarray = np.clip(found.x[:m], 0.0, None)
    return weights


def _build(name: str, config: Mapping[str, Any]) -> Any:
    """A member from its config (``_target_`` and settings), failing in one line that names it."""
    import importlib

    from hydra.errors import InstantiationException
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    target = str(config["_target_"])
    module, _, attribute = target.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), attribute, None) if module else None
    except ImportError as exc:
        found, why = None, str(exc)
    else:
        why = f"{module or target} has no {attribute or target}"
    if found is None:
        raise PricebenchError(
            f"predictor.members.{name}._target_={target} cannot be imported ({why}); give a "
            f"predictor config, e.g. predictor@predictor.members.{name}=ridge"
        )
    try:
        return instantiate(OmegaConf.create(dict(config)), _convert_="all")
    except InstantiationException as exc:
        cause = exc.__cause__ or exc
        if isinstance(cause, PricebenchError):
            raise PricebenchError(f"ensemble member {name}: {cause}") from None
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise PricebenchError(
            f"could not build ensemble member {name} ({target}): {first}"
        ) from None


def _scored(predictions: Sequence[Prediction]) -> np.ndarray:
    """Guesses as they are scored: NaN, infinite and negative ones count as $0."""
    values = np.array([float(p.guess) for p in predictions], dtype=float)
    return np.where(np.isfinite(values) & (values > 0), values, 0.0)


def _mae(truths: np.ndarray, guesses: np.ndarray) -> float:
    return float(np.mean(np.abs(truths - guesses))) if len(truths) else float("nan")


class Ensemble(PredictorBase):
    """Stacks ``members`` (name -> predictor, or a list of predictors) with non-negative weights
    fitted on out-of-fold predictions of the training pool; see the module's docstring."""

    name = "ensemble"

    def __init__(
        self,
        members: Mapping[str, Any] | Sequence[Any] | None = None,
        folds: int = 5,
        seed: int = 42,
        validation_size: int | None = None,
        fallback: bool = True,
    ) -> None:
        self.members = members
        self.folds = folds
        self.seed = seed
        self.validation_size = validation_size
        self.fallback = fallback

    @property
    def requires_fit(self) -> bool:
        return True  # the weights are fitted on the pool's prices

    # --- members -----------------------------------------------------------------------------

    def _named_members(self) -> dict[str, Any]:
        """The members by name (a list's are named after their class, numbered if repeated);
        a member given as a config mapping (``_target_``) is built here."""
        given = self.members
        if given is None:
            pairs: list[tuple[str, Any]] = []
        elif isinstance(given, Mapping):
            pairs = [(str(name), member) for name, member in given.items()]
        elif isinstance(given, Sequence) and not isinstance(given, str):
            pairs = [(f"[{position}]", member) for position, member in enumerate(given)]
        else:
            raise PricebenchError(
                "predictor.members must name the member predictors' configs (name: config) "
                f"or list them, got {given!r:.60}"
            )
        if not pairs:
            raise PricebenchError(
                "predictor.members is empty: give the ensemble at least one member, e.g. "
                "+predictor@predictor.members.ridge=ridge"
            )
        named: dict[str, Any] = {}
        for key, given_member in pairs:
            member = given_member
            if isinstance(member, Mapping) and "_target_" in member:
                member = _build(key, member)
            if not (
                callable(getattr(member, "fit", None))
                and callable(getattr(member, "predict", None))
            ):
                raise PricebenchError(
                    f"predictor.members.{key} is not a predictor (it has no fit and predict): "
                    f"give a predictor config, e.g. predictor@predictor.members.{key}=ridge"
                )
            name = key
            if not isinstance(given, Mapping):  # a list's: named after their class
                base = str(getattr(member, "name", None) or type(member).__name__).lower()
                name, n = base, 1
                while name in named:
                    n += 1
                    name = f"{base}_{n}"
            named[name] = member
        return named

    def _call(self, name: str, member: Any, items: Sequence[Item]) -> np.ndarray:
        """``member.predict(items)`` as scored guesses; what it spends is counted against its
        ``max_cost``, and an error it raises names its key under ``predictor.members``."""
        budget = getattr(member, "max_cost", None)
        limited = isinstance(budget, int | float) and not isinstance(budget, bool)
        if isinstance(budget, int | float) and limited:
            left = self.budget_left_.setdefault(name, float(budget))
            member.max_cost = max(left, 0.0)
        try:
            predictions = list(member.predict(items))
        except PricebenchError as exc:
            raise PricebenchError(self._member_message(name, str(exc))) from None
        finally:
            if limited:
                member.max_cost = budget
        if len(predictions) != len(items):
            raise PricebenchError(
                f"ensemble member {name} returned {len(predictions)} predictions for "
                f"{len(items)} items"
            )
        summary = run_summary_of(member)
        totals = self.member_summaries_.setdefault(name, {}) if summary else {}
        for key, value in summary.items():
            if key in SUMMED and isinstance(value, int | float) and not isinstance(value, bool):
                totals[key] = totals.get(key, 0) + value
            elif key not in SUMMED:
                totals[key] = value
        if limited:
            self.budget_left_[name] -= float(summary.get("cost") or 0.0)
        self.member_notes_[name] = [f"{name}: {note}" for note in notes_of(member)]
        return _scored(predictions)

    def _member_message(self, name: str, message: str) -> str:
        keyed = re.sub(r"\bpredictor\.(?=[A-Za-z_])", f"predictor.members.{name}.", message)
        spent = self.member_summaries_.get(name, {}).get("cost")
        if spent and "max_cost" in message:
            keyed += f" (${spent:.4f} of it went to this member's validation requests)"
        return f"ensemble member {name}: {keyed}"

    def _fit_member(self, name: str, member: Any, items: Sequence[Item]) -> Any:
        started = time.perf_counter()
        try:
            fitted = member.fit(items)
        except PricebenchError as exc:
            raise PricebenchError(self._member_message(name, str(exc))) from None
        self.fit_seconds_[name] = self.fit_seconds_.get(name, 0.0) + time.perf_counter() - started
        return member if fitted is None else fitted

    # --- fitting -----------------------------------------------------------------------------

    def _check(self, n: int) -> None:
        from harness.config_check import check_settings

        settings = {
            "folds": self.folds, "seed": self.seed, "validation_size": self.validation_size,
            "fallback": self.fallback,
        }  # fmt: skip
        check_settings(Ensemble, settings)
        if n < self.folds:
            raise PricebenchError(
                f"the ensemble needs at least predictor.folds={self.folds} training items to "
                f"cross-fit, got {n}; lower predictor.folds or give more training items"
            )

    def fit(self, train_items: Sequence[Item]) -> Ensemble:
        """Cross-fit the members that learn, fit the weights (now, or on the first ``predict``
        when a member that learns nothing must first predict the validation items), then fit
        every member on the whole pool."""
        items = list(train_items)
        n = len(items)
        self._check(n)
        members = self._named_members()
        self.names_ = list(members)
        self.budget_left_: dict[str, float] = {}
        self.member_summaries_: dict[str, dict[str, Any]] = {}
        self.member_notes_: dict[str, list[str]] = {}
        self.fit_seconds_: dict[str, float] = {}

        rng = np.random.default_rng(self.seed)
        order = rng.permutation(n)
        self.fold_of_ = np.empty(n, dtype=int)
        self.fold_of_[order] = np.arange(n) % self.folds
        size = n if self.validation_size is None else min(int(self.validation_size), n)
        self.validation_ = np.sort(order[:size])  # positions in the pool
        validation_items = [items[i] for i in self.validation_]
        self.truths_ = np.array([item.price for item in validation_items], dtype=float)
        self.oof_ = np.full((size, len(members)), np.nan)
        self.learns_ = {name: requires_fit(member) for name, member in members.items()}

        for j, (name, member) in enumerate(members.items()):
            if not self.learns_[name]:
                continue  # predicts the validation items with the test items
            for k in range(self.folds):
                rows = np.flatnonzero(self.fold_of_[self.validation_] == k)
                if not len(rows):
                    continue
                rest = [item for i, item in enumerate(items) if self.fold_of_[i] != k]
                model = self._fit_member(name, copy.deepcopy(member), rest)
                self.oof_[rows, j] = self._call(name, model, [validation_items[r] for r in rows])
        self.members_ = {
            name: self._fit_member(name, member, items) for name, member in members.items()
        }
        self.validation_items_ = validation_items
        self.weights_: np.ndarray | None = None
        if all(self.learns_.values()):
            self._fit_weights()
        return self

    def _fit_weights(self) -> None:
        """The weights from the out-of-fold guesses, and the blend's own out-of-fold error (the
        weights fitted on the other folds), against which the best member may be kept alone."""
        guesses, truths = self.oof_, self.truths_
        self.member_errors_ = {
            name: _mae(truths, guesses[:, j]) for j, name in enumerate(self.names_)
        }
        folds = self.fold_of_[self.validation_]
        blended = np.zeros(len(truths))
        for k in range(self.folds):
            held = folds == k
            if not held.any():
                continue
            if held.all():  # (one fold holds every validation item: no other to fit on)
                blended[held] = guesses[held] @ mae_weights(guesses, truths)
                continue
            blended[held] = guesses[held] @ mae_weights(guesses[~held], truths[~held])
        self.blend_error_ = _mae(truths, blended)
        self.best_ = min(self.member_errors_, key=lambda name: self.member_errors_[name])
        self.fell_back_ = bool(
            self.fallback
            and len(self.names_) > 1
            and self.blend_error_ >= self.member_errors_[self.best_]
        )
        if self.fell_back_:
            self.weights_ = np.array([float(name == self.best_) for name in self.names_])
        else:
            self.weights_ = mae_weights(guesses, truths)

    # --- predicting --------------------------------------------------------------------------

    def predict(self, items: Sequence[Item]) -> list[Prediction]:
        check_fitted(self, "members_", name="the ensemble")
        items = list(items)
        nv = len(self.validation_items_)
        guesses = np.zeros((len(items), len(self.names_)))
        for j, name in enumerate(self.names_):
            member = self.members_[name]
            if self.learns_[name]:
                guesses[:, j] = self._call(name, member, items) if items else []
            elif self.weights_ is None:  # the validation items and these, in one call
                both = self._call(name, member, [*self.validation_items_, *items])
                self.oof_[:, j] = both[:nv]
                guesses[:, j] = both[nv:]
            elif items:
                guesses[:, j] = self._call(name, member, items)
        if self.weights_ is None:
            self._fit_weights()
        assert self.weights_ is not None
        blended = guesses @ self.weights_
        return [
            Prediction(
                float(value),
                extra={f"guess_{name}": float(row[j]) for j, name in enumerate(self.names_)},
            )
            for value, row in zip(blended, guesses, strict=True)
        ]

    # --- reporting ---------------------------------------------------------------------------

    def weights(self) -> dict[str, float]:
        """The fitted weights by member name."""
        check_fitted(self, "members_", name="the ensemble")
        if self.weights_ is None:
            return {}
        return {name: float(w) for name, w in zip(self.names_, self.weights_, strict=True)}

    def run_summary(self) -> dict[str, Any]:
        """The weights, the out-of-fold errors they rest on, whether the best member was kept
        alone, each member's fit time and (LLM members) requests and cost."""
        if not hasattr(self, "members_"):
            return {}
        summary: dict[str, Any] = {
            "weights": self.weights(),
            "objective": "mean absolute error of the out-of-fold guesses (linprog), weights ≥ 0",
            "folds": int(self.folds),
            "validation_n": len(self.validation_items_),
            "fell_back": bool(getattr(self, "fell_back_", False)),
            "best_member": getattr(self, "best_", None),
            "oof_error": {**getattr(self, "member_errors_", {}),
                          "blend": getattr(self, "blend_error_", None)},
            "member_fit_seconds": {k: round(v, 3) for k, v in self.fit_seconds_.items()},
        }  # fmt: skip
        if self.member_summaries_:
            summary["members"] = self.member_summaries_
            costs = [s["cost"] for s in self.member_summaries_.values() if "cost" in s]
            if costs:
                summary["cost"] = float(sum(costs))
        return summary

    def notes(self) -> list[str]:
        """The weights and the out-of-fold errors, in one line (and the members' own notes)."""
        members = [note for notes in getattr(self, "member_notes_", {}).values() for note in notes]
        if getattr(self, "weights_", None) is None:
            return members
        shown = ", ".join(f"{name} {w:.3f}" for name, w in self.weights().items())
        errors = ", ".join(f"{name} ${e:,.2f}" for name, e in self.member_errors_.items())
        line = (
            f"ensemble weights: {shown} (fitted on the out-of-fold guesses of "
            f"{len(self.validation_items_):,} pool items, {self.folds} folds; out-of-fold "
            f"error: blend ${self.blend_error_:,.2f}, {errors})"
        )
        if self.fell_back_:
            line += f"; the blend was not better than {self.best_} alone, which is kept"
        return [*members, line]
