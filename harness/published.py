"""The course's published results on the fixed test set, kept by the project with their source.

A copy of the table the LLM Engineering course (week 6, 2024 edition) reported in its result
notebooks; ``tests/test_leaderboard.py`` checks it against ``../shared/data/pricer/reported.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.metrics import figures

SOURCE = (
    "LLM Engineering course (Ed Donner), week 6, 2024 edition: the published result notebooks "
    "(collected in shared/data/pricer/reported.csv)"
)


@dataclass(frozen=True, slots=True)
class Published:
    predictor: str
    description: str
    error: float
    rmsle: float
    hits_pct: float
    recording: str | None  # a recording of its guesses exists under this file name

    @property
    def hit_rate(self) -> float:
        return self.hits_pct / 100

    @property
    def metrics(self) -> dict[str, float]:
        """The published figures under the metric registry's names."""
        return {"error": self.error, "rmsle": self.rmsle, "hit_rate": self.hit_rate}

    @property
    def line(self) -> str:
        return figures(self.metrics)


PUBLISHED: tuple[Published, ...] = (
    Published(
        "random",
        "random.seed(42); random.randrange(1, 1000) per item, in test order",
        340.74,
        1.72,
        11.6,
        "random.csv",
    ),
    Published(
        "constant",
        "mean price of the 400,000-item training split (220.46)",
        145.51,
        1.22,
        16.8,
        "constant.csv",
    ),
    Published(
        "linear_regression",
        "sklearn LinearRegression on weight, best-sellers rank, prompt length, top-electronics-brand flag",
        139.34,
        1.17,
        15.6,
        None,
    ),
    Published(
        "bow_lr",
        "CountVectorizer(max_features=1000, stop_words='english') + LinearRegression on test prompts",
        113.60,
        0.99,
        24.8,
        None,
    ),
    Published(
        "word2vec_lr",
        "gensim Word2Vec(vector_size=400, window=5, min_count=1), mean document vector + LinearRegression",
        115.47,
        1.01,
        27.6,
        None,
    ),
    Published(
        "svr",
        "LinearSVR on the word2vec document vectors",
        112.52,
        0.93,
        26.4,
        None,
    ),
    Published(
        "random_forest",
        "RandomForestRegressor(n_estimators=100, random_state=42) on the word2vec document vectors",
        97.11,
        0.88,
        34.0,
        None,
    ),
    Published(
        "human",
        "a person's guesses from the test prompts (human_output.csv)",
        126.55,
        1.00,
        32.0,
        "human.csv",
    ),
    Published(
        "gpt-4o-mini",
        "gpt-4o-mini, seed=42, max_tokens=5, system 'You estimate prices of items. Reply only with the price, no explanation'",
        79.58,
        0.59,
        52.0,
        "gpt-4o-mini.csv",
    ),
    Published(
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-08-06, same prompt and settings as gpt-4o-mini",
        75.92,
        0.75,
        58.0,
        None,
    ),
    Published(
        "claude-3-5-sonnet-20240620",
        "claude-3-5-sonnet-20240620, max_tokens=5, same prompt",
        100.83,
        0.60,
        50.8,
        None,
    ),
    Published(
        "gpt-4o-mini-fine-tuned",
        "gpt-4o-mini-2024-07-18 fine-tuned 1 epoch on train[:500] (validation train[500:550]), seed=42, assistant prefill 'Price is $', max_tokens=7",
        91.45,
        0.68,
        44.0,
        "gpt-4o-mini-fine-tuned.csv",
    ),
)
