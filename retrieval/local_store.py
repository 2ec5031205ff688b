"""One owner for the embedded Chroma directory.

Chroma's `PersistentClient` is single-process: a second process writing the same directory leaves the first
one's index stale (it keeps returning its old neighbours) or broken (`InternalError`). So the directory is
owned by exactly one process at a time, under an exclusive `flock` on `<dir>.lock`:

- `wepos serve` takes the lock and starts a Chroma server child on a loopback port for the directory
  (`LocalChromaServer`); it advertises the server's URL in `<dir>.server.json`, and every process of the
  install (the API, its workers, a `wepos` command in another terminal) reaches the store through it.
- Without a running server (a `wepos` command on its own, tests) the process that takes the lock opens the
  directory in-process; another process waits for the lock and says who holds it if it cannot get it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from core.errors import ConfigError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0


class StoreBusy(ConfigError):
    """Another process owns the embedded Chroma directory and serves no URL for it."""


@dataclass
class _Held:
    fd: int
    users: int


# Locks this process holds, by directory: flock is per open file, so a second open in the same process would
# wait on its own lock.
_held: dict[Path, _Held] = {}
_held_guard = threading.Lock()
# Directories whose server child this process runs: never opened in-process here, even while it restarts.
_served: set[Path] = set()
# In-process clients this process opened as the owner, by id: closing one gives up one use of the lock.
_owned_clients: dict[int, Path] = {}


def lock_path(directory: Path) -> Path:
    return directory.with_name(directory.name + ".lock")


def server_file(directory: Path) -> Path:
    return directory.with_name(directory.name + ".server.json")


def acquire(directory: Path, wait_s: float = 0.0) -> bool:
    """Take (or share, within this process) ownership of `directory`; False if another process holds it
    after `wait_s` seconds."""
    key = directory.resolve()
    with _held_guard:
        held = _held.get(key)
        if held is not None:
            held.users += 1
            return True
        key.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path(key), os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _held[key] = _Held(fd, 1)
        return True


def release(directory: Path) -> None:
    """Give up one use of this process's ownership; the lock goes with the last."""
    key = directory.resolve()
    with _held_guard:
        held = _held.get(key)
        if held is None:
            return
        held.users -= 1
        if held.users <= 0:
            del _held[key]
            os.close(held.fd)  # closing the file releases the flock


def owns(directory: Path) -> bool:
    with _held_guard:
        return directory.resolve() in _held


def advertised_url(directory: Path) -> str | None:
    """The URL of a live Chroma server that owns `directory`, if one is advertised and answers."""
    try:
        url = str(json.loads(server_file(directory).read_text(encoding="utf-8"))["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if heartbeat(url) else None


def heartbeat(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(f"{url}/api/v2/heartbeat", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def open_client(directory: Path, *, wait_s: float = 30.0) -> ClientAPI:
    """A client for the embedded store: through its advertised server, else in-process under the lock
    (give it back with `close_client`)."""
    deadline = time.monotonic() + wait_s
    while True:
        url = advertised_url(directory)
        if url is not None:
            return http_client(url)
        if directory.resolve() not in _served and acquire(directory):
            try:
                client = _persistent_client(directory)
            except BaseException:
                release(directory)
                raise
            _owned_clients[id(client)] = directory
            return client
        if time.monotonic() >= deadline:
            holder = _holder(directory)
            raise StoreBusy(
                f"the knowledge store {directory} is held by another process{holder} and no server for it "
                "answers: wait for it to finish, or stop it"
            )
        time.sleep(0.2)


def close_client(client: ClientAPI) -> None:
    """Close a client of `open_client`; an in-process one gives up its use of the directory's lock."""
    directory = _owned_clients.pop(id(client), None)
    if directory is not None:
        client.close()  # type: ignore[attr-defined]
        release(directory)


def http_client(url: str) -> ClientAPI:
    from urllib.parse import urlparse

    import chromadb
    from chromadb.config import Settings as ChromaSettings

    parsed = urlparse(url)
    if not parsed.hostname:
        raise ConfigError("WEPOS_CHROMA_URL: expected http://host:port")
    return chromadb.HttpClient(
        host=parsed.hostname,
        port=parsed.port or (443 if parsed.scheme == "https" else 8000),
        ssl=parsed.scheme == "https",
        settings=ChromaSettings(anonymized_telemetry=False),
    )


def _persistent_client(directory: Path) -> ClientAPI:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    directory.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(directory), settings=ChromaSettings(anonymized_telemetry=False))


def _holder(directory: Path) -> str:
    with contextlib.suppress(OSError, ValueError):
        pid = int(lock_path(directory).read_text().strip() or 0)
        if pid:
            return f" (pid {pid})"
    return ""


def chroma_executable() -> str:
    """The `chroma` command of the installed chromadb package (beside this interpreter)."""
    beside = Path(sys.executable).parent / "chroma"
    found = str(beside) if beside.exists() else shutil.which("chroma")
    if not found:
        raise ConfigError("the chroma command of the chromadb package is not installed: run `make install`")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalChromaServer:
    """A Chroma server child for the embedded directory, on a loopback port, owned by this process.

    `ensure_running` starts it again (same port) if it died, so the store comes back within seconds."""

    def __init__(self, directory: Path, *, wait_s: float = 30.0) -> None:
        self.directory = directory
        self._wait_s = wait_s
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._owned = False
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> str:
        if not acquire(self.directory, self._wait_s):
            raise StoreBusy(
                f"the knowledge store {self.directory} is in use by another process{_holder(self.directory)}: "
                "stop it first (a `wepos` command, or another `wepos serve` on this data dir)"
            )
        self._owned = True
        _served.add(self.directory.resolve())
        self.directory.mkdir(parents=True, exist_ok=True)
        self._port = free_port()
        self._spawn()
        tmp = server_file(self.directory).with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": self.url, "pid": os.getpid()}), encoding="utf-8")
        tmp.replace(server_file(self.directory))
        return self.url

    def _spawn(self) -> None:
        log_file = self.directory.with_name(self.directory.name + ".server.log")
        with open(log_file, "ab") as out:
            self._process = subprocess.Popen(
                [
                    chroma_executable(),
                    "run",
                    "--path",
                    str(self.directory),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self._port),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
                preexec_fn=stop_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not heartbeat(self.url, timeout=0.5):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._process.kill()
                raise ConfigError(f"the local Chroma server did not start: see {log_file}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ensure_running(self) -> bool:
        """Start the server again if it died; True when it had to."""
        if self._process is None or self.alive():
            return False
        log.warning("local chroma server exited; starting it again", extra={"code": self._process.returncode})
        self.restarts += 1
        self._spawn()
        return True

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            server_file(self.directory).unlink()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._process = None
        if self._owned:
            _served.discard(self.directory.resolve())
            release(self.directory)
            self._owned = False


def stop_with_parent() -> None:
    """In a child process, before it runs: receive SIGTERM when its parent dies, even by SIGKILL (Linux)."""
    import ctypes
    import signal

    # Elsewhere than Linux, the parent still stops its children on a normal exit.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
