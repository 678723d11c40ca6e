"""The offline learners ``ridge``, ``knn`` and ``gbm`` (predictors/ridge.py, knn.py, gbm.py) and
the features they share (predictors/text_features.py).

Unit tests fit on small generated items; one end-to-end run per learner on the canonical 250 with
the offline pool checks the figures the README gives.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.data import Item
from harness.errors import PricebenchError
from harness.predictor import PredictorBase
from predictors.gbm import GbmPricer
from predictors.knn import KnnPricer
from predictors.ridge import RidgePricer
from predictors.text_features import NUMERIC_FEATURES, numeric_features
from tests.conftest import only_run, read_json, run_cli

# What each learner scores at its YAML's defaults, fitted on the 1,999-item offline pool.
OFFLINE_LINES = {
    "ridge": "Error=$112.54 RMSLE=0.85 Hits=30.0%",
    "knn": "Error=$108.65 RMSLE=0.84 Hits=30.8%",
    "gbm": "Error=$104.26 RMSLE=0.79 Hits=33.2%",
}

_WORDS = [
    "sturdy",
    "compact",
    "black",
    "steel",
    "plastic",
    "cable",
    "mount",
    "kit",
    "replacement",
    "premium",
]
_TIERS = {"budget": 8.0, "standard": 40.0, "deluxe": 200.0, "professional": 900.0}


def _items(n: int, seed: int = 0) -> list[Item]:
    """Items whose price follows a tier word in the text (times noise), with filler words."""
    rng = random.Random(seed)
    items = []
    for index in range(n):
        tier = rng.choice(list(_TIERS))
        title = f"{tier.title()} {rng.choice(_WORDS)} widget {rng.randrange(100)}"
        body = " ".join(rng.choices(_WORDS, k=12))
        price = round(_TIERS[tier] * rng.uniform(0.8, 1.25), 2)
        text = f"How much does this cost?\n\n{title}\n{tier} {body}\n\nPrice is $"
        category = rng.choice(["Automotive", "Electronics", None])
        items.append(Item(index, title, price, text, category=category))
    return items


SMALL: dict[str, Callable[[], PredictorBase]] = {
    "ridge": lambda: RidgePricer(n_features=2**14),
    "knn": lambda: KnnPricer(k=5, n_features=2**14),
    "gbm": lambda: GbmPricer(n_components=4, folds=3, max_iter=40),
}


@pytest.fixture(scope="module")
def train() -> list[Item]:
    return _items(160, seed=1)


@pytest.fixture(scope="module")
def test_items() -> list[Item]:
    return _items(60, seed=2)


def _mae(guesses: list[float], items: list[Item]) -> float:
    return sum(abs(g - i.price) for g, i in zip(guesses, items, strict=True)) / len(items)


@pytest.mark.parametrize("name", SMALL)
def test_fit_returns_self_and_predicts_one_non_negative_guess_per_item(
    name: str, train: list[Item], test_items: list[Item]
) -> None:
    model = SMALL[name]()
    assert model.fit(train) is model
    predictions = model.predict(test_items)
    assert len(predictions) == len(test_items)
    assert all(p.guess >= 0 and math.isfinite(p.guess) for p in predictions)
    assert model.predict([]) == []


@pytest.mark.parametrize("name", SMALL)
def test_learner_beats_the_training_mean_when_the_text_carries_the_price(
    name: str, train: list[Item], test_items: list[Item]
) -> None:
    mean = sum(i.price for i in train) / len(train)
    guesses = [p.guess for p in SMALL[name]().fit(train).predict(test_items)]
    assert _mae(guesses, test_items) < 0.5 * _mae([mean] * len(test_items), test_items)


@pytest.mark.parametrize("name", SMALL)
def test_same_items_give_the_same_guesses(
    name: str, train: list[Item], test_items: list[Item]
) -> None:
    first = [p.guess for p in SMALL[name]().fit(train).predict(test_items)]
    assert first == [p.guess for p in SMALL[name]().fit(train).predict(test_items)]


@pytest.mark.parametrize("name", SMALL)
def test_predict_before_fit_is_the_one_not_fitted_error(name: str) -> None:
    with pytest.raises(PricebenchError, match=f"^{name} was not fitted: call fit"):
        SMALL[name]().predict(_items(2))


@pytest.mark.parametrize("name", SMALL)
def test_no_training_items_is_one_error_naming_the_learner(name: str) -> None:
    with pytest.raises(PricebenchError, match=f"^{name} needs training items to fit"):
        SMALL[name]().fit([])


@pytest.mark.parametrize(
    ("model", "line"),
    [
        (RidgePricer(alpha=-1.0), "predictor.alpha must be a number > 0, got -1.0"),
        (KnnPricer(k=0), "predictor.k must be an integer ≥ 1, got 0"),
        (GbmPricer(blend=2.0), "predictor.blend must be a number ≥ 0 and ≤ 1, got 2.0"),
    ],
)
def test_a_setting_out_of_range_fails_at_fit_with_the_config_line(
    model: PredictorBase, line: str
) -> None:
    with pytest.raises(PricebenchError) as caught:
        model.fit(_items(5))
    assert str(caught.value) == line


@pytest.mark.parametrize("make", [RidgePricer, KnnPricer])
def test_char_text_body_reads_char_ngrams_of_the_whole_description(
    make: Callable[..., PredictorBase], train: list[Item], test_items: list[Item]
) -> None:
    title = [p.guess for p in make(n_features=2**14).fit(train).predict(test_items)]
    body = make(n_features=2**14, char_text="body")
    assert body.features().char_text == "body"  # type: ignore[attr-defined]
    guesses = [p.guess for p in body.fit(train).predict(test_items)]
    assert guesses != title and all(g >= 0 for g in guesses)


def test_char_text_other_than_title_or_body_is_the_config_line() -> None:
    with pytest.raises(PricebenchError, match=r"^predictor\.char_text must be .*got 'words'$"):
        RidgePricer(char_text="words").fit(_items(5))  # type: ignore[arg-type]


def test_gbm_stacks_the_knn_out_of_fold_only_when_knn_k_is_set(
    train: list[Item], test_items: list[Item]
) -> None:
    stacked = GbmPricer(n_components=4, folds=3, max_iter=40).fit(train)
    alone = GbmPricer(n_components=4, folds=3, max_iter=40, knn_k=0).fit(train)
    assert stacked.knn_ is not None and alone.knn_ is None
    # ridge, the knn's log price and nearest similarity, numbers, SVD, category
    assert stacked.model_.n_features_in_ == alone.model_.n_features_in_ + 2
    a = [p.guess for p in stacked.predict(test_items)]
    b = [p.guess for p in alone.predict(test_items)]
    assert a != b and all(g >= 0 for g in a + b)


@pytest.mark.filterwarnings("error")  # and says nothing: no RuntimeWarning from the SVD
def test_one_training_item_still_fits() -> None:
    items = _items(3)
    for make in SMALL.values():
        guesses = [p.guess for p in make().fit(items[:1] * 2).predict(items)]
        assert all(g >= 0 for g in guesses)


def test_hashed_tfidf_is_scikit_learns_sublinear_tfidf_of_the_kept_columns(
    monkeypatch: pytest.MonkeyPatch, train: list[Item], test_items: list[Item]
) -> None:
    """The two-pass builder (chunks of 7 texts here) gives what TfidfTransformer gives on the
    whole count matrix, for the fit and for new texts; the weight scales every row."""
    import numpy as np
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

    from predictors import text_features

    texts = [item.text for item in train]
    new = [item.text for item in test_items] + ["", "zzz-never-seen"]
    hasher = HashingVectorizer(
        ngram_range=(1, 2), n_features=2**12, alternate_sign=False, norm=None
    )
    counts = hasher.transform(texts)
    kept = np.flatnonzero(np.bincount(counts.indices, minlength=2**12) >= 2)
    reference = TfidfTransformer(sublinear_tf=True).fit(counts[:, kept])
    monkeypatch.setattr(text_features, "CHUNK", 7)
    tfidf = text_features.HashedTfidf("word", (1, 2), 2**12, min_df=2, weight=0.5)
    built = tfidf.fit_transform(texts)
    assert list(tfidf.columns_) == list(kept)
    expected = reference.transform(counts[:, kept]).toarray() * 0.5
    assert np.allclose(built.toarray(), expected, atol=1e-6)
    again = tfidf.transform(new).toarray()
    assert np.allclose(
        again, reference.transform(hasher.transform(new)[:, kept]).toarray() * 0.5, atol=1e-6
    )
    assert not again[-2:].any()  # nothing known: an empty row, not NaN


def test_ridge_solver_is_scikit_learns_ridge_and_a_mask_is_a_fit_on_those_rows() -> None:
    import numpy as np
    import scipy.sparse as sp
    from sklearn.linear_model import Ridge

    from predictors.ridge import ridge_predict, solve_ridge

    rng = np.random.default_rng(0)
    blocks = [
        sp.random(80, 30, density=0.2, format="csr", dtype=np.float32, random_state=1),
        sp.random(80, 12, density=0.3, format="csr", dtype=np.float32, random_state=2),
    ]
    y = rng.normal(3.0, 1.0, 80)
    whole = sp.hstack(blocks, format="csr").toarray()
    rows = rng.random(80) < 0.7
    for mask in (None, rows):
        kept = np.ones(80, bool) if mask is None else mask
        reference = Ridge(alpha=0.5).fit(whole[kept], y[kept])
        coef, intercept = solve_ridge(blocks, y, 0.5, rows=mask, tol=1e-10)
        assert np.allclose(np.concatenate(coef), reference.coef_, atol=1e-5)
        assert intercept == pytest.approx(reference.intercept_, abs=1e-5)
        assert np.allclose(ridge_predict(blocks, coef, intercept), reference.predict(whole),
                           atol=1e-5)  # fmt: skip


def test_knn_ties_go_to_the_earlier_training_item_and_excluded_rows_are_never_neighbours() -> None:
    import numpy as np

    same = "Budget steel widget\nsteel widget"
    items = [Item(i, "Budget widget", p, same) for i, p in enumerate([10.0, 20.0, 40.0, 80.0])]
    knn = KnnPricer(k=2, n_features=2**12, char_weight=0.0).fit(items)
    blocks = knn.features_.transform(items[:1])
    logs, nearest = knn.neighbours(blocks)
    assert logs[0] == pytest.approx(np.log1p([10.0, 20.0]).mean())  # four ties: the first two
    assert nearest[0] == pytest.approx(1.0)
    exclude = np.array([True, True, False, False])
    logs, _ = knn.neighbours(blocks, exclude=exclude)
    assert logs[0] == pytest.approx(np.log1p([40.0, 80.0]).mean())


def test_gbm_boosts_on_a_seeded_sample_of_stack_size_items_of_a_larger_pool(
    train: list[Item], test_items: list[Item]
) -> None:
    small = GbmPricer(n_components=4, folds=3, max_iter=40, stack_size=50).fit(train)
    assert len(small.stacked_) == 50 == len(set(small.stacked_.tolist()))
    assert set(small.stacked_.tolist()) <= set(range(len(train)))
    assert len(GbmPricer(stack_size=500).fit(train[:40]).stacked_) == 40  # a smaller pool: all
    again = GbmPricer(n_components=4, folds=3, max_iter=40, stack_size=50).fit(train)
    first = [p.guess for p in small.predict(test_items)]
    assert first == [p.guess for p in again.predict(test_items)]
    whole = GbmPricer(n_components=4, folds=3, max_iter=40).fit(train)
    assert first != [p.guess for p in whole.predict(test_items)]
    assert all(g >= 0 for g in first)


def test_numeric_features_parse_a_course_description() -> None:
    text = (
        "Delphi FG0166 Fuel Pump Module, 12V 150 Watts, Pack of 2, 64GB, Dimensions LxWxH "
        "19.7 x 7.7 x 5.1 inches, Weight 2.2 Pounds, 5 Amps"
    )
    features = numeric_features(text)
    assert features["weight_lb"] == pytest.approx(2.2)
    assert features["volume_in3"] == pytest.approx(19.7 * 7.7 * 5.1)
    assert features["longest_in"] == pytest.approx(19.7)
    assert features["watts"] == 150.0 and features["volts"] == 12.0 and features["amps"] == 5.0
    assert features["pack"] == 2.0 and features["capacity_gb"] == 64.0
    assert features["length_chars"] == float(len(text))
    assert features["largest_number"] == 166.0  # "FG0166"
    assert list(features) == list(NUMERIC_FEATURES)


def test_numeric_features_convert_units_and_leave_nan_when_absent() -> None:
    features = numeric_features("Item Weight 8 ounces; 10 x 20 x 5 cm; 1,200-count; 2 TB drive")
    assert features["weight_lb"] == pytest.approx(0.5)
    assert features["volume_in3"] == pytest.approx(1000 / 2.54**3)
    assert features["longest_in"] == pytest.approx(20 / 2.54)
    assert features["pack"] == 1200.0 and features["capacity_gb"] == 2048.0
    assert math.isnan(features["watts"]) and math.isnan(features["volts"])
    empty = numeric_features("no numbers here")
    assert empty["n_numbers"] == 0.0 and math.isnan(empty["largest_number"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["knn"])  # ridge and gbm: inside the ensemble's run, whose
def test_learner_runs_end_to_end_on_the_offline_pool(name: str, tmp_path: Path) -> None:
    # records hold each member's guesses (tests/test_ensemble.py checks them against these lines)
    proc = run_cli(f"predictor={name}", "quiet=true", f"results.dir={tmp_path}/r", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    metrics = read_json(only_run(tmp_path / "r") / "metrics.json")
    assert metrics["summary_line"] == f"{name} {OFFLINE_LINES[name]}"
    assert metrics["summary_line"] in proc.stdout.splitlines()
    assert metrics["canonical"] is True and metrics["n"] == 250
    assert metrics["train"]["n"] == 1999
