"""A second process start loads the kernels from Numba's cache instead of compiling them."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json
import sweep
from sweep import kernels
sweep.run({"name": "c", "sweep": {"days": 5},
           "lp": [{"name": "A", "commit": [{"day": 0, "stake": 1, "fee_bid": 0.01}]}]},
          scheduler="synchronous")
stats = kernels.simulate_chunk.stats
print(json.dumps({"hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values())}))
"""


def run_once() -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_second_process_does_not_recompile():
    run_once()  # compiles if nothing is cached yet
    second = run_once()
    assert second == {"hits": 1, "misses": 0}
