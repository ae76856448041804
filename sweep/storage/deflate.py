"""HDF5's shuffle + deflate filters in Python, so that storage chunks compress on every core.

HDF5 compresses a chunk on the thread that writes it, and a file is written by one thread: a
netCDF file compressed through HDF5 (or netCDF-C) is compressed at zlib's single-core speed.
:func:`deflate_chunk` builds the bytes HDF5's filter pipeline (shuffle, then deflate) would
store for a chunk, in plain Python (``zlib`` releases the GIL), so a thread pool compresses
chunks side by side and one writer stores them with HDF5's direct chunk write. Any netCDF4 or
HDF5 reader decompresses them with its built-in filters: no plugin.

Why it is also faster per core than HDF5: after the shuffle, each byte plane (every value's
byte ``j``) is a stream of its own. The planes of float64 market noise's low mantissa bytes
are random; zlib spends most of its time failing to compress them (4% saved at best). A
plane whose sample zlib cannot shrink below :data:`STORE_ABOVE` of its size is stored
(deflate's "stored" blocks, copied at memory speed); the others are compressed at the
configured level. The result is one valid zlib stream (the planes as separate runs of deflate
blocks, each ended by a sync flush, one final empty block, the Adler-32 of the whole chunk),
read by every inflater.
"""

from __future__ import annotations

import os
import zlib

import numpy as np

STORE_ABOVE = 0.8
"""A byte plane is stored, not compressed, when level-1 zlib leaves more than this fraction of
its sample. On 4,096 own-path scenarios (516 MB raw) the file is 355.4 MB against 342.5 MB
through HDF5's zlib (3.8% more), compressed in a sixth of the CPU time (2.0 against 12.2 s);
0.9 gives 354.1 MB in 2.7 s, 0.7 356.6 MB in 2.0 s: zlib at ~40 MB/s saves 4% of the planes
stored, and 10-20% of those from 0.8 to 0.9."""

SAMPLE = 8 * 2**10
"""Bytes of a plane trial-compressed to decide whether to store it."""

MAX_THREADS = 8
"""Compression threads at most: past that the single writer (and the disk) set the pace."""

_FINAL = b"\x03\x00"  # an empty final deflate block (fixed Huffman codes, end of block only)


def compression_threads() -> int:
    """Threads for compressing: the cores this process may run on, at most
    :data:`MAX_THREADS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, cores))


def shuffled_planes(block: np.ndarray) -> list[np.ndarray]:
    """HDF5's shuffle filter as byte planes: plane ``j`` holds byte ``j`` of every value, in
    order; the shuffled chunk is their concatenation."""
    data = np.ascontiguousarray(block)
    size = data.dtype.itemsize
    raw = data.reshape(-1).view(np.uint8)
    if size == 1:  # HDF5's shuffle leaves 1-byte values as they are
        return [raw]
    by_value = raw.reshape(-1, size)
    return [np.ascontiguousarray(by_value[:, j]) for j in range(size)]


STORED = 65535  # bytes at most in one stored deflate block


def _stored_size(n: int) -> int:
    """Bytes of ``n`` bytes as stored deflate blocks (5 bytes of header each)."""
    return n + 5 * -(-n // STORED)


def _put_stored(out: np.ndarray, data: np.ndarray) -> None:
    """``data`` into ``out`` as stored deflate blocks, not final: a header byte 0 (byte-aligned,
    as every run here ends), then LEN and its ones' complement NLEN, little-endian, then LEN
    bytes. numpy copies them (without the GIL, which zlib's output buffers would hold)."""
    full, rest = divmod(data.size, STORED)
    if full:
        blocks = out[: full * (STORED + 5)].reshape(full, STORED + 5)
        blocks[:, :5] = (0, 0xFF, 0xFF, 0, 0)
        blocks[:, 5:] = data[: full * STORED].reshape(full, STORED)
    if rest:
        tail = out[full * (STORED + 5) :]
        tail[:5] = (0, rest & 0xFF, rest >> 8, ~rest & 0xFF, (~rest >> 8) & 0xFF)
        tail[5:] = data[full * STORED :]


def _deflate(data: np.ndarray, level: int, decide: bool) -> list[bytes | np.ndarray]:
    """A run of raw deflate blocks, byte-aligned and not final (a sync flush ends it), so that
    runs concatenate into one stream, as pieces: zlib's bytes, or ``data`` itself where it is
    to be stored (``decide``: when a sample does not compress)."""
    if not data.nbytes:
        return []
    if decide and data.nbytes > SAMPLE:
        sample = data[:SAMPLE]
        if len(zlib.compress(sample, level)) > STORE_ABOVE * sample.nbytes:
            return [data]  # stored blocks: not worth zlib's time
    encoder = zlib.compressobj(level, zlib.DEFLATED, -15)
    return [encoder.compress(data), encoder.flush(zlib.Z_SYNC_FLUSH)]


def deflate_chunk(
    block: np.ndarray, level: int, shuffle: bool = True, chunk: tuple[int, ...] | None = None
) -> memoryview:
    """The bytes HDF5 stores for a chunk whose filters are shuffle (if ``shuffle``) then
    deflate at ``level``: a zlib stream of the (shuffled) values of ``block``.

    ``chunk``: the storage chunk's shape, when ``block`` is an edge chunk's values (smaller:
    HDF5 stores edge chunks whole, so they are padded with zeros). Padding past the last row
    is compressed apart from the values, whatever the values' planes are stored as.
    """
    values = np.ascontiguousarray(block)
    valid = values.size  # values before the padding, in each plane
    if chunk is not None and values.shape != tuple(chunk):
        whole = np.zeros(chunk, values.dtype)
        whole[tuple(slice(0, n) for n in values.shape)] = values
        if values.shape[1:] != tuple(chunk[1:]):
            valid = whole.size  # padding within rows: mixed with the values
        values = whole
    if shuffle:
        planes = shuffled_planes(values)
    else:
        planes, valid = [values.reshape(-1).view(np.uint8)], valid * values.dtype.itemsize
    pieces: list[bytes | np.ndarray] = [zlib.compress(b"", level)[:2]]  # this level's header
    check = 1  # Adler-32 of nothing
    for plane in planes:
        pieces += _deflate(plane[:valid], level, decide=True)
        pieces += _deflate(plane[valid:], level, decide=False)
        check = zlib.adler32(plane, check)
    pieces += [_FINAL, check.to_bytes(4, "big")]
    sizes = [_stored_size(p.size) if isinstance(p, np.ndarray) else len(p) for p in pieces]
    out = np.empty(sum(sizes), np.uint8)
    at = 0
    for piece, size in zip(pieces, sizes, strict=True):
        if isinstance(piece, np.ndarray):
            _put_stored(out[at : at + size], piece)
        else:
            out[at : at + size] = np.frombuffer(piece, np.uint8)
        at += size
    return memoryview(out)
