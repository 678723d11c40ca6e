"""The course's published results on the fixed test set, kept by the project with their source.

A copy of the table the LLM Engineering course (week 6, 2024 edition) reported in its result
notebooks; ``tests/test_leaderboard.py`` checks it against ``../shared/data/pricer/reported.csv``.
And a copy of the 2025 edition's table (error only, on its first 200 test items);
``tests/test_reproduce_2025.py`` checks it against ``../shared/data/pricer/reported_2025.csv``.
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

    edition = "2024"

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


SOURCE_2025 = (
    "LLM Engineering course (Ed Donner), week 6, 2025 edition: ed-donner/llm_engineering "
    "week6/results.ipynb, error only, on the first 200 test items (collected in "
    "shared/data/pricer/reported_2025.csv)"
)


@dataclass(frozen=True, slots=True)
class Published2025:
    """A row of the 2025 edition's published table: the mean absolute error only."""

    predictor: str
    description: str
    error: float
    recording: str | None = None  # no recording of any row's guesses was published

    edition = "2025"

    @property
    def metrics(self) -> dict[str, float]:
        return {"error": self.error}

    @property
    def line(self) -> str:
        return figures(self.metrics, self.edition)


PUBLISHED_2025: tuple[Published2025, ...] = (
    Published2025("constant", "Constant (training mean)", 106.18),
    Published2025("linear_regression", "Linear Regression", 101.56),
    Published2025("nlp_lr", "NLP + LR", 76.81),
    Published2025("random_forest", "Random Forest", 72.28),
    Published2025("xgboost", "XGBoost", 68.23),
    Published2025("human", "Human (Ed)", 87.62),
    Published2025("neural_network", "Neural Network", 63.97),
    Published2025("gpt-4.1-nano", "GPT 4.1 Nano", 62.51),
    Published2025("grok-4.1-fast", "Grok 4.1 Fast", 57.62),
    Published2025("gemini-3-pro", "Gemini 3 Pro", 50.54),
    Published2025("claude-sonnet-4.5", "Claude 4.5 Sonnet", 47.10),
    Published2025("gpt-5.1", "GPT 5.1", 44.74),
    Published2025("gpt-4.1-nano-fine-tuned", "GPT 4.1 Nano (Fine-tuned)", 75.91),
    Published2025("deep_neural_network", "Deep Neural Network", 46.49),
)
N_2025 = 200  # the 2025 edition's Tester scores its first 200 test items

# Each edition's published rows, the number of items they were measured on, and their source.
BY_EDITION: dict[str, tuple[tuple[Published | Published2025, ...], int, str]] = {
    "2024": (PUBLISHED, 250, SOURCE),
    "2025": (PUBLISHED_2025, N_2025, SOURCE_2025),
}
