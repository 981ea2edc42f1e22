"""A plan of file changes: shown as a diff by ``--dry-run``, applied atomically otherwise."""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


class ScaffoldError(ValueError):
    """A bad argument or state: one line naming what is wrong and what to do. Nothing written."""


@dataclass(frozen=True)
class Change:
    """One file: ``content`` None deletes it; ``before`` None means it does not exist yet."""

    path: Path
    content: str | None
    before: str | None

    @property
    def action(self) -> str:
        if self.content is None:
            return "delete"
        return "create" if self.before is None else "update"


@dataclass
class Plan:
    """Every file a command writes, relative to ``root``; notes say what happens after."""

    root: Path
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def write(self, relative: str | Path, content: str) -> None:
        path = self.root / relative
        pending = self._pending(path)
        before = pending if pending is not None else _read(path)
        if before == content:
            return
        self._drop(path)
        self.changes.append(Change(path, content, _read(path)))

    def delete(self, relative: str | Path) -> None:
        path = self.root / relative
        if path.exists():
            self._drop(path)
            self.changes.append(Change(path, None, _read(path)))

    def discard(self, relative: str | Path) -> None:
        """Forget a pending change (a file this plan no longer writes)."""
        self._drop(self.root / relative)

    def current(self, relative: str | Path) -> str | None:
        """A file's content as this plan leaves it (pending changes first, then the disk)."""
        path = self.root / relative
        pending = self._pending(path)
        if pending is not None or any(c.path == path for c in self.changes):
            return pending
        return _read(path)

    def _pending(self, path: Path) -> str | None:
        for change in self.changes:
            if change.path == path:
                return change.content
        return None

    def _drop(self, path: Path) -> None:
        self.changes = [c for c in self.changes if c.path != path]

    def relative(self, path: Path) -> str:
        """The path as shown: relative to the root, or absolute for a file outside it (e.g.
        users.yaml when ``MESH_ACCESS_DIR`` moves it)."""
        return str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)

    def summary(self) -> list[str]:
        marks = {"create": "+", "update": "~", "delete": "-"}
        return [f"{marks[c.action]} {c.action:6} {self.relative(c.path)}" for c in self.changes]

    def diff(self) -> str:
        out = []
        for c in self.changes:
            name = self.relative(c.path)
            out.extend(
                difflib.unified_diff(
                    (c.before or "").splitlines(keepends=True),
                    (c.content or "").splitlines(keepends=True),
                    fromfile="/dev/null" if c.before is None else f"a/{name}",
                    tofile="/dev/null" if c.content is None else f"b/{name}",
                )
            )
        return "".join(line if line.endswith("\n") else line + "\n" for line in out)

    def apply(self) -> None:
        """Write every change or none: content goes to temporary files beside their targets
        first, then each is moved into place; if anything fails, what moved is put back."""
        staged: list[tuple[Change, Path | None]] = []
        try:
            for c in self.changes:
                tmp = None
                if c.content is not None:
                    c.path.parent.mkdir(parents=True, exist_ok=True)
                    fd, name = tempfile.mkstemp(prefix=f".{c.path.name}.", dir=c.path.parent)
                    with os.fdopen(fd, "w") as handle:
                        handle.write(c.content)
                    tmp = Path(name)
                    if c.path.exists():
                        shutil.copymode(c.path, tmp)
                staged.append((c, tmp))
        except OSError:
            for _, tmp in staged:
                if tmp:
                    tmp.unlink(missing_ok=True)
            raise
        done: list[Change] = []
        try:
            for c, tmp in staged:
                if tmp is not None:
                    os.replace(tmp, c.path)
                else:
                    c.path.unlink()
                done.append(c)
        except OSError:
            for c in reversed(done):
                if c.before is None:
                    c.path.unlink(missing_ok=True)
                else:
                    c.path.write_text(c.before)
            raise
        finally:
            for _, tmp in staged:
                if tmp and tmp.exists():
                    tmp.unlink()
        self._prune_empty_dirs()

    def _prune_empty_dirs(self) -> None:
        for c in self.changes:
            if c.content is not None:
                continue
            parent = c.path.parent
            while parent != self.root and parent.exists() and not _has_files(parent):
                shutil.rmtree(parent)
                parent = parent.parent


def _has_files(path: Path) -> bool:
    return any(p.is_file() and p.suffix != ".pyc" for p in path.rglob("*"))


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() else None
