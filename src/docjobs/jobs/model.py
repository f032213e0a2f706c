"""The job record and its states; the legal moves between states live here and nowhere else."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum


class State(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED})
ACTIVE_STATES = frozenset({State.QUEUED, State.RUNNING, State.RETRYING})

# to-state -> the states it may be entered from. running -> running is a progress update;
# failed/cancelled -> queued is a retry by a person (a new attempt of the same job).
LEGAL_MOVES: dict[State, frozenset[State]] = {
    State.QUEUED: frozenset({State.FAILED, State.CANCELLED}),
    State.RUNNING: frozenset({State.QUEUED, State.RUNNING, State.RETRYING}),
    State.RETRYING: frozenset({State.RUNNING, State.RETRYING, State.QUEUED}),
    State.SUCCEEDED: frozenset({State.RUNNING}),
    State.FAILED: frozenset({State.QUEUED, State.RUNNING, State.RETRYING}),
    State.CANCELLED: frozenset({State.QUEUED, State.RUNNING, State.RETRYING}),
}


def can_move(current: State, to: State) -> bool:
    return current in LEGAL_MOVES[to]


def ended_field(attempt: int) -> str:
    """The job-record field holding how `attempt` ended, written when a person retries it."""
    return f"ended:{attempt}"


@dataclass
class Job:
    """One shared file's processing, as stored in a Redis hash (all values are strings there)."""

    id: str
    channel: str
    thread_ts: str
    file_id: str
    file_name: str
    user: str
    url: str = ""
    message_ts: str = ""
    file_size: int = 0
    mimetype: str = ""
    team: str = ""
    state: State = State.QUEUED
    step: str = ""
    percent: int = 0
    detail: str = ""
    attempt: int = 1
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    updated_at: float = 0.0
    reason_code: str = ""
    reason: str = ""
    hint: str = ""
    pages: int = 0
    words: int = 0
    chunks: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    retries: int = 0
    cancelled_by: str = ""
    retried_by: str = ""
    progress_ts: str = ""
    progress_attempt: int = 0
    reaction: str = ""
    enqueued_at: float = 0.0
    next_run_at: float = 0.0

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def to_hash(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in asdict(self).items():
            if isinstance(value, list):
                out[key] = json.dumps(value)
            else:
                out[key] = str(value)
        return out

    def snapshot(self) -> str:
        """The record as one string, kept when a retry starts the next attempt over it."""
        return json.dumps(self.to_hash())

    @classmethod
    def from_snapshot(cls, text: str) -> Job:
        return cls.from_hash(json.loads(text))

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> Job:
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            if f.name not in raw:
                continue
            value = raw[f.name]
            if f.name == "state":
                kwargs[f.name] = State(value)
            elif f.name == "warnings":
                kwargs[f.name] = json.loads(value) if value else []
            elif f.type in ("int",):
                kwargs[f.name] = int(float(value or 0))
            elif f.type in ("float",):
                kwargs[f.name] = float(value or 0)
            else:
                kwargs[f.name] = value
        return cls(**kwargs)  # type: ignore[arg-type]
