"""Bayesian global fit of dark transition magnetic moments of Majorana neutrinos."""
__version__ = "0.1.0"
