"""The index directory on disk.

    <root>/current          a symbolic link to the generation being served
    <root>/gen-<stamp>/     one complete Whoosh index, and its `state.json`:
                            {"xmin": the database snapshot's xmin it is complete up to,
                             "synced_at": when the last sync or rebuild finished}
    <root>/writer.lock      held (flock) by the one process writing: sync or rebuild

A rebuild writes a new generation and then replaces the link in one `rename`, so readers see
the old index or the new one, never half of one; a crash half-way leaves the old one served
and a stray directory that the next rebuild removes.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CURRENT = "current"
STATE = "state.json"
LOCK = "writer.lock"
KEEP_PREVIOUS = 1  # generations kept besides the current one (readers may still have it open)


class WriterBusy(Exception):
    """Another process is writing the index (sync or rebuild)."""


@dataclass(frozen=True)
class State:
    xmin: int  # changes from transactions at or after this id may not be in the index yet
    synced_at: dt.datetime
    groups: int = 0
    schema: int = 0  # finder.keywords.analysis.SCHEMA_VERSION it was built with

    def to_json(self) -> str:
        return json.dumps({"xmin": self.xmin, "synced_at": self.synced_at.isoformat(),
                           "groups": self.groups, "schema": self.schema})

    @classmethod
    def from_json(cls, text: str) -> State:
        data = json.loads(text)
        return cls(int(data["xmin"]), dt.datetime.fromisoformat(data["synced_at"]),
                   int(data.get("groups", 0)), int(data.get("schema", 0)))


def current_dir(root: Path) -> Path | None:
    """The generation being served (resolved), or None when there is none."""
    link = root / CURRENT
    try:
        target = link.resolve(strict=True)
    except (FileNotFoundError, RuntimeError, OSError):
        return None
    return target if target.is_dir() else None


def read_state(generation: Path) -> State:
    """Raises OSError or ValueError when the state is missing or unreadable."""
    try:
        return State.from_json((generation / STATE).read_text(encoding="utf-8"))
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"unreadable index state in {generation}") from exc


def write_state(generation: Path, state: State) -> None:
    tmp = generation / (STATE + ".tmp")
    tmp.write_text(state.to_json(), encoding="utf-8")
    os.replace(tmp, generation / STATE)


def new_generation(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"gen-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns()}"
    path.mkdir()
    return path


def switch_to(root: Path, generation: Path) -> None:
    """Serve `generation` from now on (one atomic rename of the link), and tidy up."""
    tmp = root / f".{CURRENT}.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(generation.name)
    os.replace(tmp, root / CURRENT)
    _remove_old(root, generation)


def _remove_old(root: Path, serving: Path) -> None:
    """Generations older than the previous one, and unfinished ones, are removed."""
    generations = sorted((p for p in root.glob("gen-*") if p.is_dir() and p != serving),
                         key=lambda p: p.stat().st_mtime, reverse=True)
    finished = [p for p in generations if (p / STATE).exists()]
    keep = set(finished[:KEEP_PREVIOUS])
    for path in generations:
        if path not in keep:
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def writer_lock(root: Path, wait_s: float = 0.0) -> Iterator[None]:
    """The single-writer lock; raises WriterBusy when another writer holds it."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK, "a+") as handle:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriterBusy(f"another process is writing the index in {root}") \
                        from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
