#!/usr/bin/env python3
"""Run a global fit: ``python run_fit.py --config fit.yaml [--resume | --force]``.

A thin wrapper around ``globalfit fit`` (globalfit.cli); see docs/fitting.md.
"""
import sys

from globalfit.cli import main

if __name__ == "__main__":
    sys.exit(main(["fit", *sys.argv[1:]]))
