"""bikecast: daily bike-rental forecasts. Shared code for training and the predict function."""

import os

# One OpenMP thread for scikit-learn's OpenMP-parallel code. On this data (hundreds of rows) threads buy nothing,
# and on a busy 2-core machine or a fractional Lambda vCPU, OpenMP's spinning threads made a retrain with
# HistGradientBoosting many times slower. Set before scikit-learn loads its OpenMP
# runtime; an explicit OMP_NUM_THREADS from the environment still wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

__version__ = "0.1.0"
