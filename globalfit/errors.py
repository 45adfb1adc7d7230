"""Exception types of the package (a leaf module: no imports from the package).

Every error a user can cause carries a one-line message that names the file, key or
parameter at fault; the command-line interface prints that line and exits with status 2.
"""
from __future__ import annotations


class GlobalFitError(Exception):
    """Base class for errors caused by user input (config, data, parameters)."""


class ConfigError(GlobalFitError):
    """A problem in a fit configuration; the message names the file and key path."""


class DataFileError(GlobalFitError):
    """A shipped or user-supplied data file is missing or malformed; the message names it."""


class ParameterError(GlobalFitError, ValueError):
    """A parameter value outside its domain (NaN, negative mass, ...); names the parameter."""


class OutOfRangeError(GlobalFitError, ValueError):
    """An observable outside the range a likelihood's data cover (no silent extrapolation)."""
