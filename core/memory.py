"""Scrub freed heap memory, so personal data cannot survive in memory that a library later writes to disk.

Measured here: Chroma's HNSW index file (`data_level0.bin`) can hold bytes of recycled heap memory, and in
one run it held a customer's phone number that an earlier webhook body had left there. glibc's M_PERTURB
makes `free` overwrite every block and `malloc` fill new ones, so recycled memory carries nothing. Costs a
memset per allocation; call once per process, as early as possible (the CLI entry point, the tests).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_PERTURB = -6  # from glibc's malloc.h
_PERTURB_BYTE = 0xA5
_done = False


def scrub_freed_memory() -> bool:
    """Turn on glibc's malloc perturbation for this process; False where the C library has no mallopt."""
    global _done
    if _done:
        return True
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        log.warning("malloc perturbation unavailable: freed memory is not scrubbed")
        return False
    _done = bool(mallopt(_M_PERTURB, _PERTURB_BYTE))
    return _done
