"""The bike-rental models (UCI Bike Sharing data): the daily model and the hourly one, each a ``spec.ModelSpec``."""
