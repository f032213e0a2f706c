"""The job event stream: a Redis Stream read through a consumer group, so nothing is lost
when a reader dies and several readers can share the load."""

from __future__ import annotations

import logging
from typing import Any

import redis

logger = logging.getLogger(__name__)

STREAM_KEY = "docjobs:events"
GROUP = "reporters"
STREAM_MAXLEN = 100_000

Event = tuple[str, dict[str, str]]


class EventStream:
    def __init__(self, client: redis.Redis, *, group: str = GROUP) -> None:
        self.client: Any = client  # decode_responses=True: replies are str
        self.group = group
        # XAUTOCLAIM's cursor: each call goes on where the last stopped, so events that stay
        # pending (a job whose thread keeps failing) cannot hide the ones behind them.
        self._claim_from = "0-0"

    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(STREAM_KEY, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, consumer: str, *, count: int = 100, block_ms: int = 500) -> list[Event]:
        """New events for this consumer; recreates the group if Redis lost it (restart)."""
        try:
            reply = self.client.xreadgroup(
                self.group, consumer, {STREAM_KEY: ">"}, count=count, block=block_ms
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            logger.warning("event group %s missing (Redis restarted?); recreating", self.group)
            self.ensure_group()
            return []
        return [(msg_id, fields) for _stream, entries in reply or [] for msg_id, fields in entries]

    def claim_stale(self, consumer: str, *, min_idle_ms: int, count: int = 100) -> list[Event]:
        """Take over events another reader received but never acknowledged (it died)."""
        try:
            self._claim_from, entries, *_ = self.client.xautoclaim(
                STREAM_KEY,
                self.group,
                consumer,
                min_idle_time=min_idle_ms,
                start_id=self._claim_from,
                count=count,
            )
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._claim_from = "0-0"
            self.ensure_group()
            return []
        return [(msg_id, fields) for msg_id, fields in entries if fields]

    def ack(self, *ids: str) -> None:
        if ids:
            self.client.xack(STREAM_KEY, self.group, *ids)

    def pending(self) -> int:
        try:
            return int(self.client.xpending(STREAM_KEY, self.group)["pending"])
        except redis.ResponseError:
            return 0
