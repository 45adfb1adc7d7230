"""Package list for setuptools (the rest of the metadata is in pyproject.toml).

``data/`` stays at the top of the repository and is installed as the package
``globalfit_data`` (each of its folders a sub-package holding every file of that folder),
which pyproject.toml's automatic package discovery cannot express.
"""
from setuptools import find_namespace_packages, find_packages, setup

CODE = find_packages(include=["globalfit", "globalfit.*", "likelihoods", "likelihoods.*"])
DATA = ["globalfit_data"] + [f"globalfit_data.{name}"
                             for name in find_namespace_packages(where="data")]

setup(packages=CODE + DATA, package_dir={"globalfit_data": "data"},
      package_data={name: ["*"] for name in DATA})
