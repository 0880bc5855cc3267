"""The ``paystream`` operator command run as an operator runs it: the console script of
this virtualenv in a subprocess, against the stack its environment names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PAYSTREAM = Path(sys.executable).parent / "paystream"


def paystream(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [str(PAYSTREAM), *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
