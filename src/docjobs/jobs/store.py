"""Jobs in Redis. Every change of state, its event and the indexes that count jobs by state
are written by one Lua script (jobs.store_scripts), so they never disagree, and an illegal
move (say, progress for a finished job) changes nothing."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import redis

from docjobs.jobs.events import STREAM_KEY, STREAM_MAXLEN
from docjobs.jobs.ids import new_job_id
from docjobs.jobs.model import LEGAL_MOVES, Job, State
from docjobs.jobs.store_scripts import CREATE, INDEX_ACTIVE_STATES, RECENT_STATES, TRANSITION

PREFIX = "docjobs:"
DEAD_LETTER_KEY = PREFIX + "deadletter"
# Celery's default queue: the Redis list its messages wait in until a worker takes one.
CELERY_QUEUE = "celery"
INDEX_ALL = PREFIX + "jobs:all"
ACTIVE_SET = PREFIX + "jobs:active"
# Succeeded jobs' "id seconds pages", scored by when they succeeded: the median time per page
# without loading the jobs.
PER_PAGE_KEY = PREFIX + "finished:per_page"
SHARE_GUARD_TTL_S = 30 * 24 * 3600


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


def message_index_key(channel: str, message_ts: str) -> str:
    """The ids of the jobs made from one Slack message: a message carries up to 10 files."""
    return f"{PREFIX}jobs:message:{channel}:{message_ts}"


def active_state_key(state: State) -> str:
    """The ids of the jobs now in active `state` (queued, running or retrying)."""
    return f"{ACTIVE_SET}:{state.value}"


def finished_key(state: State) -> str:
    """Ids of jobs that reached final `state`, scored by when (the last 24 h)."""
    return f"{PREFIX}finished:{state.value}"


_REQUIRED_FIELDS = tuple(
    f.name for f in dataclasses.fields(Job) if f.default is f.default_factory is dataclasses.MISSING
)
_ACTIVE_STATES = (State.QUEUED, State.RUNNING, State.RETRYING)
_ACTIVE_STATE_KEYS = [active_state_key(s) for s in _ACTIVE_STATES]


class JobStore:
    def __init__(self, client: redis.Redis) -> None:
        # Opened with decode_responses=True (jobs.connection): every reply is str, which
        # redis-py's annotations cannot express, hence Any.
        self.client: Any = client
        self._create = client.register_script(CREATE)
        self._transition = client.register_script(TRANSITION)
        self._index_active_states = client.register_script(INDEX_ACTIVE_STATES)
        self._recent_states = client.register_script(RECENT_STATES)

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
                active_state_key(State.QUEUED),
            ]
            if job.message_ts:
                keys.append(message_index_key(job.channel, job.message_ts))
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
        keys = [job_key(job_id), STREAM_KEY, ACTIVE_SET, *_ACTIVE_STATE_KEYS, PER_PAGE_KEY]
        status, _prev = self._transition(keys=keys, args=args)
        return int(status) == 1

    def index_active_states(self) -> None:
        """Rebuild the per-state active sets (start-up; O(active jobs), once)."""
        self._index_active_states(keys=[ACTIVE_SET, *_ACTIVE_STATE_KEYS], args=[f"{PREFIX}job:"])

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
        key = _index_key(user=user, channel=channel)
        return list(self.client.zrevrange(key, offset, offset + limit - 1))

    def recent_page(
        self, *, user: str | None = None, channel: str | None = None, limit: int, offset: int
    ) -> tuple[list[str], int]:
        """One page of ids, newest first, and how many there are in all: one round trip."""
        key = _index_key(user=user, channel=channel)
        pipe = self.client.pipeline(transaction=False)
        pipe.zrevrange(key, offset, offset + limit - 1)
        pipe.zcard(key)
        ids, total = pipe.execute()
        return list(ids), int(total)

    def get_many(self, job_ids: Iterable[str], *, fields: Sequence[str] = ()) -> list[Job]:
        """The jobs that exist, in order, in one round trip; with `fields`, only those (and
        the ones every Job has) are read, the rest keep their defaults: a table needs a few."""
        pipe = self.client.pipeline(transaction=False)
        names = list(dict.fromkeys([*_REQUIRED_FIELDS, *fields])) if fields else []
        for job_id in job_ids:
            if names:
                pipe.hmget(job_key(job_id), names)
            else:
                pipe.hgetall(job_key(job_id))
        raws = pipe.execute()
        if names:
            raws = [
                {k: v for k, v in zip(names, raw, strict=True) if v is not None} for raw in raws
            ]
        return [Job.from_hash(raw) for raw in raws if raw]

    def recent_states(
        self,
        *,
        user: str | None = None,
        channel: str | None = None,
        limit: int,
        state: State | None = None,
    ) -> list[tuple[str, State]]:
        """Among the newest `limit` ids, newest first, each with its state (only those in
        `state`, if given), in one round trip: a view picks what to load before loading it."""
        key = _index_key(user=user, channel=channel)
        args = [f"{PREFIX}job:", str(limit), state.value if state else ""]
        flat = self._recent_states(keys=[key], args=args)
        return [(flat[i], State(flat[i + 1])) for i in range(0, len(flat), 2)]

    def is_leased(self, job_id: str) -> bool:
        return bool(self.client.exists(lease_key(job_id)))

    def active_ids(self) -> list[str]:
        return list(self.client.smembers(ACTIVE_SET))

    def active_counts(self) -> dict[State, int]:
        """Jobs queued, running and retrying, from the per-state sets: one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for key in _ACTIVE_STATE_KEYS:
            pipe.scard(key)
        return {state: int(n) for state, n in zip(_ACTIVE_STATES, pipe.execute(), strict=True)}

    def all_ids(self) -> list[str]:
        return list(self.client.zrange(INDEX_ALL, 0, -1))

    def finished_since(self, state: State, since: float) -> list[str]:
        """Ids of jobs that reached final `state` since the epoch time `since` (last 24 h)."""
        return list(self.client.zrangebyscore(finished_key(state), since, "+inf"))

    def dead_letter(self, job_id: str) -> None:
        pipe = self.client.pipeline()
        pipe.lrem(DEAD_LETTER_KEY, 0, job_id)
        pipe.lpush(DEAD_LETTER_KEY, job_id)
        pipe.execute()

    def leave_dead_letter(self, job_id: str) -> None:
        self.client.lrem(DEAD_LETTER_KEY, 0, job_id)

    def dead_letter_ids(self) -> list[str]:
        return list(self.client.lrange(DEAD_LETTER_KEY, 0, -1))


def _index_key(*, user: str | None, channel: str | None) -> str:
    return user_index_key(user) if user else channel_index_key(channel) if channel else INDEX_ALL


def _encode(value: object) -> str:
    if isinstance(value, State):
        return value.value
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)
