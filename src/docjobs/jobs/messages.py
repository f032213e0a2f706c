"""One Slack message, several jobs: a message carries up to 10 files, each its own job, yet it
has one reaction for them all. Here: the state that reaction stands for, read from every job
of the message in one round trip, what the message shows now, and a short lock so that the
reporters sharing its jobs change it one at a time."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

import redis

from docjobs.jobs.model import Job, State
from docjobs.jobs.store import PREFIX, message_index_key

# Longer than the two Slack calls made under it can take (each times out after 10 s); a
# reporter that died holding it holds the message's reaction back no longer than this.
LOCK_TTL_MS = 30_000

# The order in which a message's jobs decide its reaction: any job still at work first; then
# the end that most needs the sharer, a failure, before a success; cancelled only when all were.
_PRECEDENCE = (
    State.RUNNING,
    State.RETRYING,
    State.QUEUED,
    State.FAILED,
    State.SUCCEEDED,
    State.CANCELLED,
)

# KEYS: the message's jobs, the reaction it shows. ARGV: job key prefix, the asking job's id.
# Returns {shown recorded '1'/'0', shown, state, state…}. The asking job joins the index: one
# made before the index existed joins it when first reported on, so its siblings see it.
MESSAGE_STATES = """
redis.call('SADD', KEYS[1], ARGV[2])
local shown = redis.call('GET', KEYS[2])
local out = {shown and '1' or '0', shown or ''}
for _, job_id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local state = redis.call('HGET', ARGV[1] .. job_id, 'state')
  if state then out[#out + 1] = state end
end
return out
"""

# KEYS: the lock. ARGV: the holder's token. Frees it only if still held by that holder.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def message_state(states: Iterable[State]) -> State:
    """The one state a message's reaction shows for all its (one or more) jobs."""
    seen = set(states)
    return next(state for state in _PRECEDENCE if state in seen)


def reaction_key(channel: str, message_ts: str) -> str:
    return f"{PREFIX}reaction:{channel}:{message_ts}"


def _lock_key(channel: str, message_ts: str) -> str:
    return f"{PREFIX}reaction-lock:{channel}:{message_ts}"


class MessageReactions:
    def __init__(self, client: redis.Redis) -> None:
        self.client: Any = client  # decode_responses=True (jobs.connection)
        self._states = client.register_script(MESSAGE_STATES)
        self._release = client.register_script(RELEASE)

    def look(self, job: Job) -> tuple[State, str | None]:
        """The state the reaction on `job`'s message should show, and the reaction recorded
        as shown there (None: none recorded, as for jobs reported on before this record)."""
        keys = [
            message_index_key(job.channel, job.message_ts),
            reaction_key(job.channel, job.message_ts),
        ]
        recorded, shown, *states = self._states(keys=keys, args=[f"{PREFIX}job:", job.id])
        found = [State(s) for s in states] or [job.state]  # its record was deleted meanwhile
        return message_state(found), shown if recorded == "1" else None

    def record(self, job: Job, name: str) -> None:
        """What `job`'s message shows now ("" for nothing)."""
        self.client.set(reaction_key(job.channel, job.message_ts), name)

    @contextlib.contextmanager
    def locked(self, job: Job) -> Iterator[bool]:
        """Yields whether this caller holds the lock on `job`'s message (False: another
        reporter does)."""
        key, token = _lock_key(job.channel, job.message_ts), secrets.token_hex(8)
        held = bool(self.client.set(key, token, nx=True, px=LOCK_TTL_MS))
        try:
            yield held
        finally:
            if held:
                self._release(keys=[key], args=[token])
