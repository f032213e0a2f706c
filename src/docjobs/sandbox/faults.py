"""Faults on demand: the next N calls of a method (or a share of all calls) answer 429, 500,
or hang past the client's timeout — and in every case the call has no effect."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass
class Fault:
    method: str  # a Web API method, or "*"
    mode: str  # "429", "500" or "timeout"
    count: int | None = None  # the next N matching calls; None: every call, by probability
    probability: float = 1.0
    retry_after: int = 1

    def matches(self, method: str) -> bool:
        return self.method in ("*", method)


class Faults:
    def __init__(self, seed: int | None = None) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> None:
        if fault.mode not in ("429", "500", "timeout"):
            raise ValueError(f"unknown fault mode {fault.mode!r}")
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def draw(self, method: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method):
                    continue
                if fault.count is not None:
                    if fault.count <= 0:
                        continue
                    fault.count -= 1
                    return fault
                if self._random.random() < fault.probability:
                    return fault
            return None
