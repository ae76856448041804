"""The public API type-checks: mypy finds no error in the modules behind ``sweep``'s names
(``run``, ``load``, ``compare``, ``sensitivity``, ``ConfigError``; ``[tool.mypy]`` in
pyproject.toml lists them), and code that uses them as users do is checked against their
types (a wrong argument is an error, the right ones are not)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("mypy")

pytestmark = pytest.mark.slow  # mypy over the public API

ROOT = Path(__file__).resolve().parents[1]

USER_CODE = """\
import xarray as xr
import pandas as pd
import sweep

ds: xr.Dataset = sweep.run({"name": "typed"}, scheduler="threads", workers=2, progress=True)
ds = sweep.run("sweep.toml", out="outputs/typed.nc", scheduler="tcp://127.0.0.1:8786")
again: xr.Dataset = sweep.load("outputs/typed.nc", chunks={})
table = sweep.compare(again, dim="share_rule")
indices: xr.Dataset = sweep.sensitivity(again, "fee_rate")
error: ValueError = sweep.ConfigError("[network] v", -1, "must be > 0")
version: str = sweep.__version__
sweep.run({"name": "typed"}, scheduler=8786)  # line 12: not a scheduler
"""


def test_the_public_api_type_checks(tmp_path):
    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    assert "sweep/__init__.py" in files and "sweep/runner.py" in files
    user = tmp_path / "user_code.py"
    user.write_text(USER_CODE)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "pyproject.toml",
            "--no-error-summary",
            "--show-error-codes",
            *files,
            str(user),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
    )
    errors = [x for x in done.stdout.splitlines() if re.search(r": error: ", x)]
    in_sweep = [x for x in errors if x.startswith("sweep")]
    assert in_sweep == [], "\n".join(in_sweep)
    in_user = [x for x in errors if "user_code.py:" in x]
    # mypy read sweep's types: the one wrong call, and nothing else, is an error
    assert len(in_user) == 1 and "user_code.py:12:" in in_user[0], done.stdout + done.stderr
    assert '"scheduler"' in in_user[0] and "arg-type" in in_user[0], in_user[0]
