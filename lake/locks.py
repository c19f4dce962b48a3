"""Advisory file locks under ``<home>/locks`` for steps that must not run twice at once."""

from __future__ import annotations

import fcntl
import os
import re
import threading
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


#: lock file path -> (pid, open descriptor, inode, in-process lock), for :func:`held_file_lock`
_HELD: dict[str, tuple[int, int, int, threading.Lock]] = {}
_HELD_GUARD = threading.Lock()


def _forget_held_in_child() -> None:
    """After a fork: another thread may have held the guard at that instant, and the parent's
    holds are not the child's (entries are also checked by pid, this is for the guard)."""
    global _HELD_GUARD
    _HELD_GUARD = threading.Lock()
    _HELD.clear()  # the inherited descriptors are close-on-exec; the parent still holds its own


os.register_at_fork(after_in_child=_forget_held_in_child)


@contextmanager
def held_file_lock(home: Home, name: str) -> Iterator[None]:
    """:func:`file_lock` for a lock taken on every governed query (the audit append).

    Same exclusion, fewer system calls: the lock file stays open in this process, so taking the
    lock is one ``stat`` and one ``flock`` instead of a ``mkdir``, an ``open`` and a ``close``.
    flock excludes per open file, not per thread, so an in-process lock orders this process's
    threads first. The descriptor is reopened after a fork (a child must not share the parent's
    lock) and when the lock file was deleted or replaced (a home removed and made again).
    """
    path = str(home.root / "locks" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.lock")
    with _HELD_GUARD:
        held = _HELD.get(path)
        try:
            current = os.stat(path).st_ino
        except FileNotFoundError:
            current = None
        if held is None or held[0] != os.getpid() or held[2] != current:
            if held is not None and held[0] == os.getpid():
                os.close(held[1])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            held = (os.getpid(), descriptor, os.fstat(descriptor).st_ino, threading.Lock())
            _HELD[path] = held
    _, descriptor, _, local = held
    with local:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


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
