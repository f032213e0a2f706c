"""Jobs in Redis. Every change of state and its event are written by one Lua script, so the
record and the stream never disagree, and an illegal move (say, progress for a finished job)
changes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import redis

from docjobs.jobs.events import STREAM_KEY, STREAM_MAXLEN
from docjobs.jobs.ids import new_job_id
from docjobs.jobs.model import LEGAL_MOVES, Job, State

PREFIX = "docjobs:"
DEAD_LETTER_KEY = PREFIX + "deadletter"
INDEX_ALL = PREFIX + "jobs:all"
ACTIVE_SET = PREFIX + "jobs:active"
SHARE_GUARD_TTL_S = 30 * 24 * 3600

_CREATE = """
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1, ''} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[7], ARGV[1])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[4], '*',
  'job_id', ARGV[1], 'state', 'queued', 'attempt', '1', 'prev', '')
return {1, ARGV[1]}
"""

_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return {-2, ''} end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[3] then return {-1, state} end
if not string.find(',' .. ARGV[2] .. ',', ',' .. state .. ',', 1, true) then return {0, state} end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'state', ARGV[1])
local job_id = redis.call('HGET', KEYS[1], 'id')
if ARGV[1] == 'succeeded' or ARGV[1] == 'failed' or ARGV[1] == 'cancelled' then
  redis.call('SREM', KEYS[3], job_id)
  local now = tonumber(redis.call('TIME')[1])
  local finished = 'docjobs:finished:' .. ARGV[1]
  redis.call('ZADD', finished, now, job_id)
  redis.call('ZREMRANGEBYSCORE', finished, '-inf', now - 86400)
else
  redis.call('SADD', KEYS[3], job_id)
end
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'job_id',
    redis.call('HGET', KEYS[1], 'id'), 'state', ARGV[1],
    'attempt', redis.call('HGET', KEYS[1], 'attempt'), 'prev', state)
end
return {1, state}
"""


def job_key(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def lease_key(job_id: str) -> str:
    """Held by the worker running the job; it lapses within seconds of that worker dying."""
    return f"{PREFIX}lease:{job_id}"


def share_guard_key(channel: str, file_id: str) -> str:
    return f"{PREFIX}share:{channel}:{file_id}"


def user_index_key(user: str) -> str:
    return f"{PREFIX}jobs:user:{user}"


def channel_index_key(channel: str) -> str:
    return f"{PREFIX}jobs:channel:{channel}"


class JobStore:
    def __init__(self, client: redis.Redis) -> None:
        # Opened with decode_responses=True (jobs.connection): every reply is str, which
        # redis-py's annotations cannot express, hence Any.
        self.client: Any = client
        self._create = client.register_script(_CREATE)
        self._transition = client.register_script(_TRANSITION)

    def create(self, job: Job) -> tuple[bool, str]:
        """Create the job unless this (channel, file) already has one; returns (created, id).

        The guard is a SET NX inside the script, so Slack's duplicate deliveries racing each
        other on several web processes still make exactly one job."""
        job.created_at = job.updated_at = job.created_at or time.time()
        for _ in range(10):
            job.id = job.id or new_job_id()
            args: list[str] = [
                job.id,
                str(SHARE_GUARD_TTL_S),
                str(job.created_at),
                str(STREAM_MAXLEN),
            ]
            for key, value in job.to_hash().items():
                args += [key, value]
            keys = [
                share_guard_key(job.channel, job.file_id),
                job_key(job.id),
                STREAM_KEY,
                INDEX_ALL,
                user_index_key(job.user),
                channel_index_key(job.channel),
                ACTIVE_SET,
            ]
            status, job_id = self._create(keys=keys, args=args)
            if int(status) >= 0:
                return int(status) == 1, str(job_id)
            job.id = ""  # id collision: draw another
        raise RuntimeError("could not allocate a job id")

    def get(self, job_id: str) -> Job | None:
        raw = self.client.hgetall(job_key(job_id))
        return Job.from_hash(raw) if raw else None

    def transition(
        self,
        job_id: str,
        to: State,
        *,
        attempt: int | None = None,
        fields: dict[str, object] | None = None,
        emit: bool = True,
    ) -> bool:
        """Move the job to `to` if that is legal from where it is (and, if given, still on
        `attempt`); returns whether it moved. Fields are written only when it moves."""
        allowed = ",".join(sorted(LEGAL_MOVES[to]))
        args: list[str] = [
            to.value,
            allowed,
            "" if attempt is None else str(attempt),
            str(STREAM_MAXLEN),
            "1" if emit else "0",
        ]
        for key, value in {"updated_at": time.time(), **(fields or {})}.items():
            args += [key, _encode(value)]
        status, _prev = self._transition(keys=[job_key(job_id), STREAM_KEY, ACTIVE_SET], args=args)
        return int(status) == 1

    def set_fields(self, job_id: str, **fields: object) -> None:
        """Fields outside the state machine (the reporter's message ts, for one)."""
        self.client.hset(job_key(job_id), mapping={k: _encode(v) for k, v in fields.items()})

    def claim_field(self, job_id: str, name: str, value: str) -> bool:
        """Set a field only if unset (HSETNX): a cheap once-only guard per job."""
        return bool(self.client.hsetnx(job_key(job_id), name, value))

    def first_time(self, name: str, *, ttl_s: int = SHARE_GUARD_TTL_S) -> bool:
        """True once per name (SET NX): for replies that must not repeat on Slack's retries."""
        return bool(self.client.set(f"{PREFIX}once:{name}", "1", nx=True, ex=ttl_s))

    def get_field(self, job_id: str, name: str) -> str | None:
        return self.client.hget(job_key(job_id), name)

    def recent_ids(
        self,
        *,
        user: str | None = None,
        channel: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[str]:
        key = user_index_key(user) if user else channel_index_key(channel) if channel else INDEX_ALL
        return list(self.client.zrevrange(key, offset, offset + limit - 1))

    def count(self, *, user: str | None = None, channel: str | None = None) -> int:
        key = user_index_key(user) if user else channel_index_key(channel) if channel else INDEX_ALL
        return int(self.client.zcard(key))

    def get_many(self, job_ids: Iterable[str]) -> list[Job]:
        pipe = self.client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hgetall(job_key(job_id))
        return [Job.from_hash(raw) for raw in pipe.execute() if raw]

    def is_leased(self, job_id: str) -> bool:
        return bool(self.client.exists(lease_key(job_id)))

    def active_ids(self) -> list[str]:
        return list(self.client.smembers(ACTIVE_SET))

    def all_ids(self) -> list[str]:
        return list(self.client.zrange(INDEX_ALL, 0, -1))

    def finished_since(self, state: State, since: float) -> list[str]:
        """Ids of jobs that reached final `state` since the epoch time `since` (last 24 h)."""
        return list(self.client.zrangebyscore(f"{PREFIX}finished:{state.value}", since, "+inf"))

    def dead_letter(self, job_id: str) -> None:
        pipe = self.client.pipeline()
        pipe.lrem(DEAD_LETTER_KEY, 0, job_id)
        pipe.lpush(DEAD_LETTER_KEY, job_id)
        pipe.execute()

    def leave_dead_letter(self, job_id: str) -> None:
        self.client.lrem(DEAD_LETTER_KEY, 0, job_id)

    def dead_letter_ids(self) -> list[str]:
        return list(self.client.lrange(DEAD_LETTER_KEY, 0, -1))


def _encode(value: object) -> str:
    if isinstance(value, State):
        return value.value
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)
