"""Hostile cases: the offline learners' settings (predictors/ridge.py, knn.py, gbm.py). Each ends
before any fitting, with the config line naming the key."""

from __future__ import annotations

from tests.hostile.cases import Case


def _learner(id: str, setting: str, expect: str) -> Case:
    predictor, override = setting.split(" ", 1)
    return Case(
        id=id,
        row=0,
        command="pricebench",
        args=[
            f"predictor={predictor}",
            override,
            "tracker=none",
            "data.size=3",
            "results.dir={tmp}/r",
        ],  # fmt: skip
        expect="^pricebench: error: " + expect,
    )


CASES = [
    _learner(
        "ridge-alpha-negative",
        "ridge predictor.alpha=-1",
        r"predictor\.alpha must be a number > 0, got -1",
    ),  # fmt: skip
    _learner(
        "ridge-alpha-text",
        "ridge predictor.alpha=abc",
        r"predictor\.alpha must be a number( > 0)?, got 'abc'",
    ),  # fmt: skip
    _learner("knn-k-zero", "knn predictor.k=0", r"predictor\.k must be an integer ≥ 1, got 0"),
    _learner(
        "knn-k-float", "knn predictor.k=2.5", r"predictor\.k must be an integer( ≥ 1)?, got 2\.5"
    ),  # fmt: skip
    _learner(
        "gbm-blend-above-1",
        "gbm predictor.blend=2",
        r"predictor\.blend must be a number ≥ 0 and ≤ 1, got 2",
    ),  # fmt: skip
    _learner(
        "gbm-folds-1", "gbm predictor.folds=1", r"predictor\.folds must be an integer ≥ 2, got 1"
    ),  # fmt: skip
    _learner(
        "gbm-knn-k-negative",
        "gbm predictor.knn_k=-1",
        r"predictor\.knn_k must be an integer ≥ 0, got -1",
    ),  # fmt: skip
    _learner(
        "gbm-stack-size-1",
        "gbm predictor.stack_size=1",
        r"predictor\.stack_size must be an integer ≥ 2, got 1",
    ),  # fmt: skip
]
