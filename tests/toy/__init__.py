"""A model spec defined entirely in the tests: the worked example of "bring your own model"."""
