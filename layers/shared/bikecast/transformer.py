"""The feature step as a scikit-learn transformer, so it is fitted and saved inside the training pipeline.

Imported by training and when a joblib pipeline is unpickled; the serving fast path never imports it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, TransformerMixin

from bikecast import features


class BikeFeatures(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Column batch -> feature matrix in ``features.FEATURE_NAMES`` order; remembers the training input ranges."""

    def fit(self, batch: features.Batch, y: object = None) -> BikeFeatures:
        self.input_ranges_ = features.input_ranges(batch)
        self.n_features_in_ = len(features.INPUT_FIELDS)
        return self

    def transform(self, batch: features.Batch) -> NDArray[np.float64]:
        return features.feature_matrix(batch)

    def get_feature_names_out(self, input_features: object = None) -> NDArray[np.str_]:
        return np.asarray(features.FEATURE_NAMES, dtype=object)

    def out_of_range(self, batch: features.Batch) -> list[features.RangeWarning]:
        return features.out_of_range(batch, self.input_ranges_)
