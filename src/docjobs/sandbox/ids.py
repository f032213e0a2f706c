"""Slack-shaped identifiers: message timestamps that only ever increase, and prefixed ids."""

from __future__ import annotations

import itertools
import string
import threading
import time

_ALPHABET = string.digits + string.ascii_uppercase


class Ids:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_us = 0
        self._counter = itertools.count(1)

    def next_ts(self) -> str:
        """ "1700000000.000100": seconds and microseconds, strictly increasing per workspace
        (integer microseconds: a float loses the last digit at this magnitude)."""
        with self._lock:
            self._last_us = max(time.time_ns() // 1000, self._last_us + 1)
            seconds, micros = divmod(self._last_us, 1_000_000)
            return f"{seconds}.{micros:06d}"

    def next_id(self, prefix: str, width: int = 10) -> str:
        """`F0000000001`-style ids: the prefix Slack uses, then upper-case base 36."""
        with self._lock:
            number = next(self._counter)
        digits = ""
        while number:
            number, rest = divmod(number, 36)
            digits = _ALPHABET[rest] + digits
        return prefix + digits.rjust(width, "0")
