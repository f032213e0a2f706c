"""The job store against a real Redis: one job per share, legal moves only, events in step."""

from __future__ import annotations

import threading

import redis

from docjobs.jobs.events import EventStream
from docjobs.jobs.model import ACTIVE_STATES, Job, State
from docjobs.jobs.store import JobStore, active_state_key


def make_job(**overrides: object) -> Job:
    fields: dict[str, object] = dict(
        id="",
        channel="C1",
        thread_ts="1.0",
        message_ts="1.0",
        file_id="F1",
        file_name="q3.pdf",
        user="U1",
        url="http://x/f.pdf",
    )
    fields.update(overrides)
    return Job(**fields)  # type: ignore[arg-type]


def test_same_share_from_many_threads_makes_one_job(store: JobStore) -> None:
    results: list[tuple[bool, str]] = []

    def share() -> None:
        results.append(store.create(make_job()))

    threads = [threading.Thread(target=share) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(created for created, _ in results) == 1
    assert len({job_id for _, job_id in results}) == 1
    assert len(store.all_ids()) == 1


def test_same_file_in_another_channel_is_another_job(store: JobStore) -> None:
    _, first = store.create(make_job())
    created, second = store.create(make_job(channel="C2"))
    assert created and first != second


def test_moves_follow_the_legal_table_and_emit_events(
    store: JobStore, redis_client: redis.Redis
) -> None:
    stream = EventStream(redis_client)
    stream.ensure_group()
    _, job_id = store.create(make_job())
    assert store.transition(job_id, State.RUNNING, attempt=1, fields={"step": "extracting"})
    assert store.transition(job_id, State.SUCCEEDED, attempt=1)
    # A finished job ignores progress, a second outcome and a cancel.
    assert not store.transition(job_id, State.RUNNING, attempt=1, fields={"percent": 50})
    assert not store.transition(job_id, State.FAILED, attempt=1)
    assert not store.transition(job_id, State.CANCELLED)
    job = store.get(job_id)
    assert job is not None and job.state is State.SUCCEEDED and job.percent == 0
    states = [fields["state"] for _, fields in stream.read("t", count=10, block_ms=10)]
    assert states == ["queued", "running", "succeeded"]


def test_stale_attempt_cannot_move_the_job(store: JobStore) -> None:
    _, job_id = store.create(make_job())
    assert store.transition(job_id, State.FAILED, attempt=1)
    assert store.transition(job_id, State.QUEUED, attempt=1, fields={"attempt": 2})
    assert not store.transition(job_id, State.RUNNING, attempt=1)
    assert store.transition(job_id, State.RUNNING, attempt=2)
    job = store.get(job_id)
    assert job is not None and job.attempt == 2 and job.state is State.RUNNING


def test_active_set_follows_the_state(store: JobStore) -> None:
    _, job_id = store.create(make_job())
    assert store.active_ids() == [job_id]
    store.transition(job_id, State.CANCELLED)
    assert store.active_ids() == []
    store.transition(job_id, State.QUEUED, fields={"attempt": 2})
    assert store.active_ids() == [job_id]


def test_unacked_events_can_be_claimed_by_another_reader(
    store: JobStore, redis_client: redis.Redis
) -> None:
    stream = EventStream(redis_client)
    stream.ensure_group()
    store.create(make_job())
    assert len(stream.read("dead-reader", block_ms=10)) == 1
    assert stream.read("live-reader", block_ms=10) == []
    claimed = stream.claim_stale("live-reader", min_idle_ms=0)
    assert [fields["state"] for _, fields in claimed] == ["queued"]


def test_events_that_stay_pending_do_not_hide_later_ones_from_a_claim(
    store: JobStore, redis_client: redis.Redis
) -> None:
    # A reader died holding 30 events nobody can finish (their threads keep failing) and,
    # behind them, the event of a job whose reply is still owed.
    stream = EventStream(redis_client)
    stream.ensure_group()
    for n in range(30):
        store.create(make_job(file_id=f"F{n}"))
    _, owed = store.create(make_job(file_id="F-owed"))
    assert len(stream.read("dead-reader", count=100, block_ms=10)) == 31

    live = EventStream(redis_client)
    seen: set[str] = set()
    for _ in range(4):  # the first 30 are claimed again and again, never acknowledged
        seen |= {
            fields["job_id"] for _, fields in live.claim_stale("live", min_idle_ms=0, count=10)
        }
    assert owed in seen


def test_per_state_sets_follow_the_state(store: JobStore, redis_client: redis.Redis) -> None:
    def members() -> dict[State, set[str]]:
        return {s: redis_client.smembers(active_state_key(s)) for s in sorted(ACTIVE_STATES)}

    _, job_id = store.create(make_job())
    none: set[str] = set()
    assert members() == {State.QUEUED: {job_id}, State.RETRYING: none, State.RUNNING: none}
    store.transition(job_id, State.RUNNING, attempt=1)
    store.transition(job_id, State.RUNNING, attempt=1, fields={"percent": 50})
    assert members() == {State.QUEUED: none, State.RETRYING: none, State.RUNNING: {job_id}}
    assert not store.transition(job_id, State.QUEUED, attempt=1)  # illegal: nothing moves
    store.transition(job_id, State.FAILED, attempt=1)
    assert members() == {State.QUEUED: none, State.RETRYING: none, State.RUNNING: none}
    store.transition(job_id, State.QUEUED, attempt=1, fields={"attempt": 2})
    assert store.active_counts() == {State.QUEUED: 1, State.RUNNING: 0, State.RETRYING: 0}


def test_recent_states_and_partial_loads_read_only_what_a_view_needs(store: JobStore) -> None:
    ids = [store.create(make_job(file_id=f"F{n}", created_at=100.0 + n))[1] for n in range(4)]
    store.transition(ids[1], State.FAILED, attempt=1)
    newest = store.recent_states(channel="C1", limit=3)
    assert newest == [(ids[3], State.QUEUED), (ids[2], State.QUEUED), (ids[1], State.FAILED)]
    assert store.recent_states(channel="C1", limit=10, state=State.FAILED) == [
        (ids[1], State.FAILED)
    ]
    assert store.recent_page(channel="C1", limit=2, offset=2) == ([ids[1], ids[0]], 4)
    partial = store.get_many([ids[1], "NOSUCH", ids[0]], fields=("state",))
    assert [(job.id, job.state, job.file_name, job.url) for job in partial] == [
        (ids[1], State.FAILED, "q3.pdf", ""),  # url was not asked for
        (ids[0], State.QUEUED, "q3.pdf", ""),
    ]
