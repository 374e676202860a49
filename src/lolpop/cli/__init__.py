"""The ``lolpop`` command line: ``quickstart``, ``lineage``, ``history``, ``show``."""
