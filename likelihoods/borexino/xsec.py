"""Moved to ``likelihoods.solar.xsec`` (shared by every electron-recoil experiment); this name
is kept for code that still imports the cross-sections from the Borexino package."""
from likelihoods.solar.xsec import *  # noqa: F401,F403
