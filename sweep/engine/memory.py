"""The allocator of a process that computes chunks: glibc's ``mallopt``, so one chunk's freed
memory serves the next (:func:`keep_freed_memory`)."""

from __future__ import annotations

import ctypes
import os
import platform

# glibc's malloc options (mallopt(3)): free memory kept at the top of the heap before it is
# handed back to the OS, and the size from which a block gets its own mapping (its maximum)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEPT_FREE_BYTES = 64 * 2**20  # per arena (glibc gives threads their own): about one chunk
OWN_MAPPING_BYTES = 32 * 2**20
_allocator_tuned = False


def keep_freed_memory() -> None:
    """Let this process reuse one chunk's memory for the next (glibc only; once per process).

    A chunk allocates its arrays afresh (tens of MiB) and frees them when its results are
    written. By default glibc hands such memory back to the OS as soon as it is freed (blocks
    from 128 KiB get their own mapping; a heap whose free top exceeds twice the largest block
    freed so far is trimmed), so the next chunk takes a page fault on every page it writes
    again: measured on a 2^14-sample design, 640,000 faults and 1.7 s of kernel time in 3.5 s
    of CPU (benchmarks/bench_design.py), and on a grid of that size 105,000 (0.36 s), depending
    only on the order of earlier allocations. Blocks up to 32 MiB are taken from the heap and
    up to 64 MiB of freed heap (about one chunk's, :data:`sweep.engine.plan.OUTPUT_BYTES_TARGET`)
    is kept for reuse instead, per arena (glibc gives threads their own); memory is still
    returned beyond that, and the numbers do not change. A process whose allocator was tuned
    on purpose (``MALLOC_TRIM_THRESHOLD_`` or ``MALLOC_MMAP_THRESHOLD_`` set, as Dask's nanny
    sets them for its workers) is left as it is.
    """
    global _allocator_tuned
    if _allocator_tuned:
        return
    _allocator_tuned = True
    if {"MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"} & set(os.environ):
        return
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, OWN_MAPPING_BYTES)
        libc.mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES)
    except (OSError, AttributeError):  # no mallopt here: the default allocator it is
        return
