"""The run directory ``chains/<name>/`` as this tool owns it: the marker that tells a run
directory from any other folder, the lock that keeps two processes out of one run, and the
claim that moves an earlier run aside for ``--force`` (deleted only once the new run has a
checkpoint, put back otherwise).
"""
from __future__ import annotations

import logging
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ConfigError

log = logging.getLogger("globalfit")

CONFIG_NAME = "config.yaml"
MANIFEST_NAME = "manifest.json"
#: written first into every run directory this tool creates; ``--force`` replaces only
#: directories that carry it (or the manifest of a completed run of an older version)
MARKER_NAME = ".globalfit-run.json"
LOCK_NAME = ".globalfit-run.lock"


def is_run_dir(run_dir: Path) -> bool:
    """True if ``run_dir`` was created by ``globalfit fit`` (marker file, or the manifest
    of a completed run written before the marker existed)."""
    import json
    for name, key in ((MARKER_NAME, "run_name"), (MANIFEST_NAME, "run_name")):
        path = run_dir / name
        if path.is_file() and not path.is_symlink():
            try:
                data = json.loads(path.read_bytes()[:1 << 20])
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get(key) == run_dir.name:
                return True
    return False


def lock_holder(run_dir: Path) -> str | None:
    """``"pid N"`` if a live process holds the lock of ``run_dir``; None if it is free
    (no lock file, or a stale one left by a process that died)."""
    import fcntl
    path = run_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 64).decode("ascii", "replace").split()
            return f"pid {pid[0]}" if pid else "another process"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RunLock:
    """An exclusive ``flock`` on ``<run dir>/.globalfit-run.lock`` holding this pid, kept for
    the lifetime of the run; the kernel drops it when the process dies (no stale locks)."""

    def __init__(self, run_dir: Path) -> None:
        import fcntl
        self.path = run_dir / LOCK_NAME
        self.created = not os.path.lexists(self.path)
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot create the lock file "
                              f"({exc.strerror or type(exc).__name__})") from None
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(self.fd, 64).decode("ascii", "replace").split()
            os.close(self.fd)
            raise ConfigError(f"{run_dir}: this run is already running "
                              f"(pid {holder[0] if holder else '?'}; lock {self.path}); "
                              "wait for it or stop it first") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        """Drop the lock; a lock file this process created is removed first (while still
        held), so a refused or finished run leaves the directory as it found it."""
        if self.fd is not None:
            if self.created:
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
            os.close(self.fd)          # closing drops the flock
            self.fd = None


class RunDirClaim:
    """Claims the run directory for this process: lock, marker, and for ``--force`` the
    earlier run moved aside to a hidden trash name; :meth:`finish` deletes the trash once
    the new run has a checkpoint (or is complete) and otherwise puts the old run back."""

    def __init__(self, cfg: Any, decision: str, checkpoint: Path) -> None:
        import json
        self.run_dir: Path = cfg.run_dir
        self.checkpoint = checkpoint
        self.trash: Path | None = None
        self.lock: RunLock | None = None
        run_dir = self.run_dir
        try:
            if decision == "replace":
                had_lock = (run_dir / LOCK_NAME).exists()
                old_lock = RunLock(run_dir)          # refuses if it started meanwhile
                stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
                self.trash = run_dir.with_name(f".{run_dir.name}.replaced-{stamp}-{os.getpid()}")
                os.rename(run_dir, self.trash)
                old_lock.release()
                if not had_lock:                     # leave the earlier run as it was
                    (self.trash / LOCK_NAME).unlink(missing_ok=True)
                log.info("moved the earlier run aside to %s until the new run has "
                         "checkpointed", self.trash)
            run_dir.mkdir(parents=True, exist_ok=True)
            self.lock = RunLock(run_dir)
            if decision != "resume" or not (run_dir / MARKER_NAME).is_file():
                marker = {"run_name": run_dir.name, "created_by": "globalfit fit",
                          "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                          "config_file": str(cfg.path)}
                tmp = run_dir / (MARKER_NAME + ".tmp")
                tmp.write_text(json.dumps(marker, indent=2) + "\n")
                os.replace(tmp, run_dir / MARKER_NAME)
        except OSError as exc:
            self.finish(False)
            raise ConfigError(f"{getattr(exc, 'filename', None) or run_dir}: cannot write the "
                              f"run directory ({exc.strerror or type(exc).__name__})") from None
        except BaseException:
            self.finish(False)
            raise

    def finish(self, checkpointed: bool | None = None) -> None:
        """Release the lock; delete the moved-aside earlier run if the new one has a
        checkpoint or is complete, else restore it."""
        if checkpointed is None:
            checkpointed = (self.checkpoint.is_file()
                            or (self.run_dir / MANIFEST_NAME).is_file())
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        if self.trash is None or not self.trash.exists():
            return
        if checkpointed:
            shutil.rmtree(self.trash, ignore_errors=True)
        else:
            if self.run_dir.exists() and is_run_dir(self.run_dir):
                shutil.rmtree(self.run_dir, ignore_errors=True)
            if not self.run_dir.exists():
                os.rename(self.trash, self.run_dir)
                log.warning("the new run stopped before its first checkpoint; the earlier run "
                            "is back in %s", self.run_dir)
        self.trash = None
