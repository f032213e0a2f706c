"""Real uvicorn servers in a background thread, on a free port, for tests over real HTTP."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn

from docjobs.embedded_redis import free_port


@contextlib.contextmanager
def serve(app: Any, *, port: int | None = None, timeout_s: float = 10.0) -> Iterator[str]:
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout_s)


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
