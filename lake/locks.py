"""Advisory file locks under ``<home>/locks`` for steps that must not run twice at once."""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager

from govlake.home import Home


@contextmanager
def file_lock(home: Home, name: str) -> Iterator[None]:
    """Hold an exclusive lock named ``name`` (waits for another holder to finish).

    The kernel releases the lock when the holder dies, so a killed process never leaves
    a stale lock behind.
    """
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    folder = home.root / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{safe}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
