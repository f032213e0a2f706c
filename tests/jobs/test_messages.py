"""The jobs of one Slack message: found from any one of them, and the one state they show."""

from __future__ import annotations

import pytest
import redis

from docjobs.jobs.messages import MessageReactions, message_state
from docjobs.jobs.model import State
from docjobs.jobs.store import JobStore
from tests.jobs.test_store import make_job

Q, R, T = State.QUEUED, State.RUNNING, State.RETRYING
S, F, C = State.SUCCEEDED, State.FAILED, State.CANCELLED


@pytest.mark.parametrize(
    ("states", "shown"),
    [
        ([S], S),
        ([S, R], R),
        ([F, Q], Q),
        ([C, T, S], T),
        ([S, F, C], F),
        ([S, C], S),
        ([C, C], C),
    ],
)
def test_a_message_shows_work_until_every_job_ends_then_the_worst_end(
    states: list[State], shown: State
) -> None:
    assert message_state(states) == shown


def test_every_job_of_a_message_is_found_from_any_one_of_them(
    store: JobStore, redis_client: redis.Redis
) -> None:
    ids = [store.create(make_job(file_id=f"F{n}"))[1] for n in range(3)]
    other = store.create(make_job(file_id="F9", message_ts="2.0"))[1]
    store.transition(ids[0], State.RUNNING)
    store.transition(ids[0], State.FAILED)
    messages = MessageReactions(redis_client)
    assert messages.look(store.get(ids[2])) == (State.QUEUED, None)  # type: ignore[arg-type]
    for job_id in ids[1:]:
        store.transition(job_id, State.RUNNING)
        store.transition(job_id, State.SUCCEEDED)
    messages.record(store.get(ids[1]), "x")  # type: ignore[arg-type]
    assert messages.look(store.get(ids[1])) == (State.FAILED, "x")  # type: ignore[arg-type]
    assert messages.look(store.get(other)) == (State.QUEUED, None)  # type: ignore[arg-type]
