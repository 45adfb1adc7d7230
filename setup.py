"""Package list for setuptools (the rest of the metadata is in pyproject.toml).

``data/`` stays at the top of the repository and is installed as the package
``globalfit_data`` (``package-dir`` in pyproject.toml), which pyproject's automatic package
discovery cannot add by itself.
"""
from setuptools import find_packages, setup

setup(packages=find_packages(include=["globalfit", "globalfit.*", "likelihoods",
                                      "likelihoods.*"]) + ["globalfit_data"])
