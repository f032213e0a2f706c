"""Faults on demand: the next N calls of a Web API method (or a share of them, drawn from a
seedable RNG) answer 429, 500, or hang past the client's timeout and then 500 — with no
effect, or (the `_applied` modes) after the call took effect. Downloads (`files.download`,
optionally one file) can fail the same way, with no effect, or 404."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

# "…_applied": the call is carried out, then answered 500 (after the hang, for a timeout), as
# Slack warns a fatal_error may follow an operation that partly succeeded.
API_MODES = ("429", "500", "timeout", "500_applied", "timeout_applied")
DOWNLOAD_MODES = ("429", "500", "timeout", "404")
DOWNLOAD = "files.download"


@dataclass
class Fault:
    method: str = "*"  # a Web API method, "*" (every Web API method) or "files.download"
    mode: str = "500"
    count: int | None = None  # the next N matching calls; None: each call with `probability`
    probability: float = 1.0
    retry_after: int = 1  # the Retry-After seconds of a 429
    sleep_s: float | None = None  # how long a "timeout" hangs (default: config.fault_timeout_s)
    file_id: str | None = None  # downloads of this file only
    id: int = 0
    hits: int = 0

    def matches(self, method: str, file_id: str | None) -> bool:
        if method == DOWNLOAD:
            return self.method == DOWNLOAD and self.file_id in (None, file_id)
        return self.method in ("*", method)

    def view(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    def __init__(self, seed: int | None = None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._next_id = 1

    def add(self, fault: Fault) -> Fault:
        modes = DOWNLOAD_MODES if fault.method == DOWNLOAD else API_MODES
        if fault.mode not in modes:
            raise ValueError(f"mode must be one of {', '.join(modes)} for {fault.method}")
        if not 0 <= fault.probability <= 1:
            raise ValueError("probability must be between 0 and 1")
        with self._lock:
            fault.id, self._next_id = self._next_id, self._next_id + 1
            self._faults.append(fault)
        return fault

    def seed(self, seed: int | None) -> None:
        with self._lock:
            self._random.seed(seed)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.view() for fault in self._faults]

    def draw(self, method: str, file_id: str | None = None) -> Fault | None:
        """The fault this call meets, if any (first matching rule wins); counts it down."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, file_id):
                    continue
                if fault.count is not None:
                    if fault.count <= 0:
                        continue
                    fault.count -= 1
                elif self._random.random() >= fault.probability:
                    continue
                fault.hits += 1
                return fault
            return None
