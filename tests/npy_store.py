"""A storage backend that lives in the tests alone, added through the public protocol only.

A result is a folder ``<name>.npys`` of ``.npy`` files: one per chunk and variable, written
under a temporary name and renamed, then an empty ``done/<chunk>`` file, the backend's own
record of finished chunks; ``run.json`` (the sweep's digest and chunk size) is written, last,
once the folder is laid out. ``complete`` marks a finished result. Nothing under ``sweep/``
knows this backend: importing this module registers it (``sweep.storage.register``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from sweep.errors import ConfigError
from sweep.storage import ResultLayout, Store, register, run_digest

SUFFIX = ".npys"


@register
class NpyStore(Store):
    """A folder of ``.npy`` blocks with its own record of finished chunks."""

    @classmethod
    def claims(cls, target: Any) -> bool:
        return target is not None and str(target).endswith(SUFFIX)

    def __init__(self, target: Any) -> None:
        super().__init__(target)
        self.root = Path(target)

    def _header(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.root / "run.json").read_text())
        except (OSError, ValueError):
            return None

    def recorded_chunk_size(self) -> int | None:
        header = self._header()
        return header["chunk_size"] if header else None

    def check(self, plan: Any, *, overwrite: bool, resume: bool, remote: bool) -> None:
        if (self.root / "complete").exists() and not (overwrite or resume):
            raise ConfigError("output", str(self.root), "exists; pass --overwrite to replace it")

    def prepare(self, layout: ResultLayout, *, overwrite: bool, resume: bool) -> str:
        self.layout = layout
        digest = run_digest(layout.plan)
        header = self._header()
        if resume and header is not None and header["digest"] == digest:
            if (self.root / "complete").exists():
                return "complete"
            self.done = {int(p.name) for p in (self.root / "done").iterdir()}
            return "resumed"
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "done").mkdir(parents=True)
        header = {"digest": digest, "chunk_size": layout.plan.chunk_size}
        (self.root / "run.json.tmp").write_text(json.dumps(header))
        os.replace(self.root / "run.json.tmp", self.root / "run.json")
        return "nothing to resume" if resume else "new"

    def write(self, chunk: Any, values: dict[str, np.ndarray]) -> None:
        for name, block in values.items():
            tmp = self.root / f"{name}.{chunk.index}.tmp.npy"
            np.save(tmp, block)
            os.replace(tmp, self.root / f"{name}.{chunk.index}.npy")
        (self.root / "done" / str(chunk.index)).touch()
        self.done.add(chunk.index)

    def commit(self) -> None:
        assert len(self.done) == len(self.layout.plan.chunks) or self._complete()
        (self.root / "complete").touch()

    def _complete(self) -> bool:
        return (self.root / "complete").exists()

    def result(self) -> xr.Dataset:
        arrays = {name: self.layout.empty(name) for name in self.layout.variables}
        for chunk in self.layout.plan.chunks:
            for name in self.layout.written:
                # a chunk hands over only what it computed: a block others share comes once
                path = self.root / f"{name}.{chunk.index}.npy"
                if path.exists():
                    arrays[name][self.layout.index(chunk, name)] = np.load(path)
        return self.layout.dataset(arrays)

    def abort(self, exc: BaseException) -> BaseException | None:
        if not self.done:  # nothing finished: leave nothing behind
            shutil.rmtree(self.root, ignore_errors=True)
        return None
