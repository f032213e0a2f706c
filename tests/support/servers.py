"""Real uvicorn servers in a background thread, on a free port, for tests over real HTTP."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


def free_port() -> int:
    """A port nobody listens on right now (another process could still take it: prefer
    `serve(app)` without a port, which binds first and never races)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(app: Any, *, port: int | None = None, timeout_s: float = 10.0) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 until the block ends; yields its base URL once it
    accepts connections, and on exit waits for the server (and its lifespan) to shut down."""
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say TCP,
    # and with Nagle on, a response written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port or 0))
        bound = int(sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=bound,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=timeout_s,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{bound}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                thread.join(timeout=timeout_s)
                raise RuntimeError(f"server on port {bound} did not start")
            time.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{bound}"
        finally:
            server.should_exit = True
            thread.join(timeout=timeout_s + 5)
            if thread.is_alive():
                raise RuntimeError(f"server on port {bound} did not stop")
    finally:
        sock.close()


def wait_until(predicate: Any, *, timeout_s: float = 10.0, interval_s: float = 0.05) -> Any:
    """Poll until `predicate()` is truthy; return its value, or fail saying what it last was."""
    deadline = time.monotonic() + timeout_s
    value = predicate()
    while not value:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in {timeout_s}s (last: {value!r})")
        time.sleep(interval_s)
        value = predicate()
    return value


__all__ = ["free_port", "serve", "wait_until"]
