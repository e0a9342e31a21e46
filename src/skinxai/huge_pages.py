"""Large CPU tensors in transparent huge pages: PyTorch's ``THP_MEM_ALLOC_ENABLE``, on unless
the environment says otherwise.

Every buffer of 2 MiB or more that PyTorch allocates on the CPU is otherwise mapped fresh and
faulted in 4 KiB page by page; the D4 views make many such buffers. On the 2-core development
VM that fault handling took more time than the arithmetic (``benchmarks/huge_pages.py``).
PyTorch reads the variable once, at its first CPU allocation, so this runs when ``skinxai`` is
imported, before any tensor exists; where the kernel's THP mode is ``never`` it changes nothing.
"""

from __future__ import annotations

import os
import sys

VARIABLE = "THP_MEM_ALLOC_ENABLE"


def use_huge_pages() -> None:
    """Ask PyTorch for huge pages on Linux unless ``THP_MEM_ALLOC_ENABLE`` is already set
    (``0`` keeps them off)."""
    if sys.platform.startswith("linux"):
        os.environ.setdefault(VARIABLE, "1")
