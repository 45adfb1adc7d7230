"""Progress a person can see, for every step longer than about two seconds (a leaf module).

What to use when
----------------
* ``with progress(total, "Borexino templates", unit="template") as bar: ... bar.update(1)``
  for a step with a known number of parts (templates, grid nodes, limit masses);
  ``bar.set_status("tau 41, N/50tau 0.62")`` shows what a stopping rule waits for.
* ``with stage("Borexino SM fit"):`` for a step without parts (one optimisation).

On a terminal (stderr is a TTY) a tqdm bar is drawn and log records are routed through it
(``tqdm.contrib.logging``), so lines never land inside the bar. Elsewhere (CI, a batch job,
a pipe) plain log lines are written: one at the start, one every ``log_every_s`` seconds
with the count done, one at the end with the wall time. :func:`set_quiet` (``--quiet``)
silences both. Nothing here changes what is computed.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import time
from typing import Any, Iterator

log = logging.getLogger("globalfit.progress")

_STATE = {"quiet": False, "log_every_s": 30.0, "force_plain": False}


def set_quiet(quiet: bool = True) -> None:
    """Silence (True) or restore (False) every progress bar and progress log line."""
    _STATE["quiet"] = bool(quiet)


def set_plain(plain: bool = True, log_every_s: float | None = None) -> None:
    """Use plain periodic log lines even on a terminal (tests, ``progress: false``)."""
    _STATE["force_plain"] = bool(plain)
    if log_every_s is not None:
        _STATE["log_every_s"] = float(log_every_s)


def configure(quiet: bool = False) -> None:
    """Log records of the commands to stderr as ``HH:MM:SS name LEVEL: message`` (INFO, or
    WARNING with ``quiet``), and :func:`set_quiet` accordingly: the one set-up of ``fit``,
    ``limits`` and ``validate``."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    set_quiet(quiet)


def is_quiet() -> bool:
    """True after ``set_quiet(True)``."""
    return bool(_STATE["quiet"])


def _use_bar() -> bool:
    return not _STATE["force_plain"] and bool(getattr(sys.stderr, "isatty", lambda: False)())


class _Plain:
    """Periodic log lines instead of a bar (stderr is not a terminal)."""

    def __init__(self, total: int | None, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n = 0
        self.status = ""
        self.t0 = self._last = time.monotonic()
        if not _STATE["quiet"]:
            what = f" ({total} {unit}{'' if total == 1 else 's'})" if total else ""
            log.info("%s%s ...", desc, what)

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if not _STATE["quiet"] and now - self._last >= _STATE["log_every_s"]:
            self._last = now
            done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
            status = f", {self.status}" if self.status else ""
            log.info("%s: %s %ss, %.0f s%s", self.desc, done, self.unit, now - self.t0, status)

    def set_status(self, text: str) -> None:
        self.status = text

    def close(self, stopped: bool = False) -> None:
        if not _STATE["quiet"]:
            status = f" ({self.status})" if self.status else ""
            if stopped:
                done = f"{self.n}/{self.total}" if self.total else f"{self.n}"
                log.info("%s: stopped after %.1f s (%s %ss)%s", self.desc,
                         time.monotonic() - self.t0, done, self.unit, status)
            else:
                log.info("%s: done in %.1f s%s", self.desc, time.monotonic() - self.t0, status)


class _Bar:
    """A tqdm bar with the same small interface as :class:`_Plain`."""

    def __init__(self, total: int | None, desc: str, unit: str) -> None:
        from tqdm.auto import tqdm
        self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=True,
                         dynamic_ncols=True)

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def set_status(self, text: str) -> None:
        self._bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        self._bar.close()


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_status(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


@contextlib.contextmanager
def progress(total: int | None, desc: str, unit: str = "step") -> Iterator[Any]:
    """A progress reporter for ``total`` parts (None: unknown); ``.update(n)``,
    ``.set_status(text)``. Closed on exit with the wall time logged ("done in", or
    "stopped after" when an error or a signal ends it)."""
    if _STATE["quiet"]:
        bar: Any = _Silent()
        yield bar
        return
    if _use_bar():
        from tqdm.contrib.logging import logging_redirect_tqdm
        bar = _Bar(total, desc, unit)
        try:
            with logging_redirect_tqdm(loggers=[logging.getLogger()]):
                yield bar
        finally:
            bar.close()
        return
    bar = _Plain(total, desc, unit)
    try:
        yield bar
    except BaseException:
        bar.close(stopped=True)
        raise
    bar.close()


@contextlib.contextmanager
def stage(desc: str, announce_after_s: float = 2.0) -> Iterator[None]:
    """Log the start and the wall time of a step without parts (one line each).

    Both lines are written only when the step is still running after ``announce_after_s``
    seconds (default 2 s; 0: always): a quick step, or one that fails at once on bad input,
    prints nothing, so an error line stays the only line."""
    import threading
    t0 = time.monotonic()
    announced = threading.Event()

    def announce() -> None:
        if not _STATE["quiet"]:
            announced.set()
            log.info("%s ...", desc)
    timer = None
    if announce_after_s > 0:
        timer = threading.Timer(announce_after_s, announce)
        timer.daemon = True
        timer.start()
    else:
        announce()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()
    if announced.is_set():
        log.info("%s: done in %.1f s", desc, time.monotonic() - t0)


__all__ = ["configure", "is_quiet", "progress", "set_plain", "set_quiet", "stage"]
