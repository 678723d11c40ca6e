"""pricebench's shared harness: data, scoring, running, storing and reporting."""

from harness.errors import PricebenchError
from harness.predictor import Prediction, Predictor, PredictorBase, check_fitted

__all__ = ["PricebenchError", "Prediction", "Predictor", "PredictorBase", "check_fitted"]
