"""Give memory freed after a request back to the operating system. glibc keeps the freed pages
of large decoded images in its arenas (one per inference thread), so without this a server's
resident memory would stay at its peak after one large upload."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

_LIBC_NAME = ctypes.util.find_library("c")


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    if _LIBC_NAME is None:
        return None
    try:
        return ctypes.CDLL(_LIBC_NAME).malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the system; False where that is not possible."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
