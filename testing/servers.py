"""Run the real app under uvicorn on a loopback port, in this process (tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.main import GRACEFUL_SHUTDOWN_S, create_app
from api.runtime import Runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    runtime: Runtime, start_timeout: float = 60.0, *, run_worker: bool = True
) -> Iterator[str]:
    """Serve `runtime` on 127.0.0.1; yields the base URL and shuts down gracefully on exit."""
    port = free_port()
    config = uvicorn.Config(
        create_app(runtime, run_worker=run_worker),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="wepos-loopback", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("wepos server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
