"""What `wepos serve` runs beside its HTTP server: worker processes and, for the embedded store, the local
Chroma server. Each is started again within a second or two when it dies (a crash, an out-of-memory kill, a
`kill -9`); a child that keeps dying at once is started again ever more slowly, not in a tight loop."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.metrics import CHILD_RESTARTS
from retrieval.local_store import LocalChromaServer, stop_with_parent

log = logging.getLogger(__name__)

WORKER_NICENESS = 5  # of the worker processes `wepos serve` starts
CHECK_EVERY_S = 0.5
# A child that lived less than this before dying counts as failing at start: its next start waits longer.
QUICK_DEATH_S = 10.0
MAX_RESTART_DELAY_S = 30.0
STOP_TIMEOUT_S = 90.0  # a worker finishes its turn in flight (a slow language model) before it exits


@dataclass
class _Child:
    process: subprocess.Popen[bytes]
    started: float
    quick_deaths: int = 0
    due: float = 0.0  # when a dead child may be started again
    dead: bool = field(default=False)


class Supervisor:
    """Starts `workers` worker processes and keeps them (and the local Chroma server, if any) running."""

    def __init__(
        self,
        workers: int,
        *,
        store: LocalChromaServer | None = None,
        command: list[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_death: Callable[[int], None] | None = None,
    ) -> None:
        """`on_death(pid)` runs once for each worker that died, before it is replaced (`wepos serve` puts the
        dead process's claimed work back in the queue there)."""
        # -P: the worker imports Wepos from where this process did, never from an `api` package that happens
        # to lie in the working directory (`-m` would put the working directory first on its path).
        self._command = command or [sys.executable, "-P", "-m", "api.cli", "worker"]
        self._count = workers
        self._store = store
        self._clock = clock
        self._on_death = on_death
        self._children: list[_Child] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pids(self) -> list[int]:
        return [child.process.pid for child in self._children if not child.dead]

    def start(self) -> None:
        self._children = [self._spawn() for _ in range(self._count)]
        self._thread = threading.Thread(target=self._watch, name="wepos-supervisor", daemon=True)
        self._thread.start()

    def _spawn(self) -> _Child:
        process = subprocess.Popen(self._command, preexec_fn=_worker_child_setup)
        return _Child(process, self._clock())

    def _watch(self) -> None:
        while not self._stopping.wait(CHECK_EVERY_S):
            try:
                self.check()
            except Exception as exc:  # the watch must outlive a failed start; it tries again
                log.error("supervisor check failed", extra={"error": type(exc).__name__})

    def check(self) -> None:
        """Start again what died (one pass; the watch thread calls this twice a second)."""
        if self._store is not None and self._store.ensure_running():
            CHILD_RESTARTS.labels(kind="chroma").inc()
        now = self._clock()
        for index, child in enumerate(self._children):
            if self._stopping.is_set():
                return
            code = child.process.poll()
            if code is None:
                continue
            if not child.dead:
                child.dead = True
                lived = now - child.started
                child.quick_deaths = child.quick_deaths + 1 if lived < QUICK_DEATH_S else 0
                child.due = now + min(MAX_RESTART_DELAY_S, 2.0**child.quick_deaths - 1)
                log.warning(
                    "worker process exited; starting another",
                    extra={"pid": child.process.pid, "code": code, "restart_in_s": round(child.due - now, 1)},
                )
                if self._on_death is not None:
                    self._on_death(child.process.pid)
            if now >= child.due:
                replacement = self._spawn()
                replacement.quick_deaths = child.quick_deaths
                self._children[index] = replacement
                CHILD_RESTARTS.labels(kind="worker").inc()

    def stop(self) -> None:
        """SIGTERM to every worker (each finishes its turn in flight), then wait for them."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        for child in self._children:
            if child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in self._children:
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait(5)


def _worker_child_setup() -> None:
    """In a spawned worker, before it runs: stop with `wepos serve`, and yield the CPU to it."""
    stop_with_parent()
    # Turns are background work; webhook acknowledgements are what Meta waits on. On a machine with fewer
    # cores than busy processes the scheduler then serves the API first.
    os.nice(WORKER_NICENESS)
