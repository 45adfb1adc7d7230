"""Keep freed large arrays in the process for reuse (glibc malloc), for the command-line runs.

A vectorised likelihood call allocates (points x bins) temporaries of a few MB: the
full-mode Borexino deviance of a 512-point block makes arrays of 512 x 858 float64 (3.5 MB).
glibc serves allocations above its mmap threshold with fresh ``mmap`` pages and returns them
to the kernel on ``free``, and memory freed at the top of its heap is trimmed back, so every
call page-faults its temporaries in again and the kernel zeroes them: measured, the full
mode at batch 1e3 ran at 3.0e4 points/s, and at 4.4e4-4.7e4 points/s with the thresholds
below (benchmarks/README.md, "Full mode"). glibc's own dynamic threshold does not help here
(it rises only after an mmapped chunk is freed, and the trim still returns the heap top).

:func:`keep_large_allocations` sets ``M_MMAP_THRESHOLD`` (allocations below it come from the
heap) and ``M_TRIM_THRESHOLD`` (free memory kept at the heap top before it is returned) with
``mallopt`` (glibc ``malloc.h``), which is what the environment variables
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` do at start-up. The price is memory:
a process keeps up to ``trim_bytes`` of freed memory. It is called by the command-line entry
points (``globalfit``, ``run_fit.py``, ``python -m globalfit.limits``), which own their
process, never on import: a program that embeds the likelihoods (Cobaya, Bilby) keeps its
own malloc settings unless it calls this function or sets the environment variables.
"""
from __future__ import annotations

import ctypes
import os
import platform

#: glibc mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: the environment variables with which a user sets these thresholds (left alone when set)
ENV_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
#: defaults: glibc's largest mmap threshold on 64-bit systems, and 4 x that kept on trim
MMAP_BYTES = 32 * 2**20
TRIM_BYTES = 128 * 2**20

_applied: bool | None = None


def keep_large_allocations(mmap_bytes: int = MMAP_BYTES, trim_bytes: int = TRIM_BYTES) -> bool:
    """Raise glibc's mmap and trim thresholds to ``mmap_bytes`` and ``trim_bytes`` (module
    docstring) once per process. Returns True when they are set; False where the C library
    is not glibc, ``mallopt`` refuses, or the user set ``MALLOC_MMAP_THRESHOLD_`` or
    ``MALLOC_TRIM_THRESHOLD_`` (their choice stands)."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if any(var in os.environ for var in ENV_VARS) or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    _applied = bool(mallopt(M_MMAP_THRESHOLD, int(mmap_bytes))
                    and mallopt(M_TRIM_THRESHOLD, int(trim_bytes)))
    return _applied


__all__ = ["ENV_VARS", "MMAP_BYTES", "TRIM_BYTES", "keep_large_allocations"]
