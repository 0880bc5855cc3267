"""``logpump.py LOG``: a local process's output, read from stdin, written to ``LOG`` and
rotated by size (``logging.handlers.RotatingFileHandler``): ``LOG`` is the newest,
``LOG.1`` ... ``LOG.<backups>`` the older ones. ``infra.local.procs.spawn`` pipes every
process it starts (backing services and paystream's own) through one; it ends when the
process and its children have closed their output.

Standard library only, run by its path: it needs nothing of the project.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler

MAX_BYTES = int(os.environ.get("PAYSTREAM_LOG_MAX_BYTES", str(20 * 1024 * 1024)))
BACKUPS = int(os.environ.get("PAYSTREAM_LOG_BACKUPS", "5"))


def pump(
    lines: Iterable[bytes], path: str, max_bytes: int = MAX_BYTES, backups: int = BACKUPS
) -> None:
    """Write each line of ``lines`` (a binary stream) to ``path``, rotating past
    ``max_bytes``, keeping ``backups`` older files."""
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    try:
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            handler.handle(logging.makeLogRecord({"msg": line, "args": None}))
    finally:
        handler.close()


if __name__ == "__main__":
    pump(sys.stdin.buffer, sys.argv[1])
