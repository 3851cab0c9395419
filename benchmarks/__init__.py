"""Benchmarks: `python benchmarks/run.py` measures the predict handler next to the seed article's Flask app."""
