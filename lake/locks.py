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


def is_free(home: Home, name: str) -> bool:
    """Whether nobody holds the lock ``name`` right now (it is not taken; for reports such as the doctor's)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    path = home.root / "locks" / f"{safe}.lock"
    if not path.exists():
        return True
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True
