"""Small files several processes update: an exclusive lock around read-modify-write, and
atomic replacement so a reader never sees half a file.

Lock files live in the data directory, never beside a tracked file: approving an access request
rewrites ``governance/access/grants.yaml`` (a policy file committed like any other), and a
``.grants.yaml.lock`` next to it was an untracked file in every working copy. A file inside the
data directory keeps its sibling lock; any other file is locked through
``<data dir>/locks/<name>-<hash of its absolute path>.lock`` — one lock per file, whichever
process asks, as long as the processes share the data directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mesh_platform.core.environment import get_environment

LOCKS_DIR = "locks"


def lock_path(path: Path) -> Path:
    """The lock file guarding ``path``: a sibling inside the data directory, else one under
    ``<data dir>/locks/`` named after the file and a hash of its absolute path."""
    path = Path(path).resolve()
    data_dir = get_environment().data_dir
    if path.is_relative_to(data_dir):
        return path.with_name(f".{path.name}.lock")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return data_dir / LOCKS_DIR / f"{path.name}-{digest}.lock"


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock (``flock``) on the lock file of ``path`` (:func:`lock_path`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
