"""bikecast: daily bike-rental forecasts. Shared code for training and the predict function."""

__version__ = "0.1.0"
