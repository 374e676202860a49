"""lolpop: ML workflow components, with an MLflow-backed metadata tracker at its heart."""

import logging

__version__ = "0.3.0.dev0"

# A library does not configure logging; it only makes sure nothing is printed unasked.
logging.getLogger("lolpop").addHandler(logging.NullHandler())
