"""A second process start loads the kernels from Numba's cache instead of compiling them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json
import numba
import sweep
from sweep.engine import summary
from sweep.mechanism import book, commitments, fees, kernels, market, outcomes, shares
sweep.run({"name": "c", "sweep": {"days": 5, "reduce": "summary"},
           "lp": [{"name": "A", "commit": [{"day": 0, "stake": 1, "fee_bid": 0.01}]}]},
          scheduler="synchronous")
hits = misses = used = 0
for module in (kernels, summary, book, commitments, fees, market, outcomes, shares):
    for name, f in vars(module).items():
        dispatcher = isinstance(f, numba.core.registry.CPUDispatcher)
        if dispatcher and f.stats.cache_hits | f.stats.cache_misses:
            used += 1
            hits += sum(f.stats.cache_hits.values())
            misses += sum(f.stats.cache_misses.values())
print(json.dumps({"hits": hits, "misses": misses, "used": used}))
"""


def run_once() -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_process_does_not_recompile():
    run_once()  # compiles if nothing is cached yet
    second = run_once()
    assert second["misses"] == 0, second
    assert second["used"] >= 14 and second["hits"] >= second["used"], second
