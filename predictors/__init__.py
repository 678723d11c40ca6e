"""Predictors: one module per family. Each is selected by a YAML in conf/predictor/."""
