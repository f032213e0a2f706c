"""Turns job events into the job's thread: one progress message, edited in place and paced;
one reaction on the shared message for all the jobs it carries; and one outcome reply per
attempt, so the person is notified.

It renders the job's *current* record, not the event's payload, so events may arrive late,
twice or out of order (several reporters, redelivery after a crash) and the thread still ends
right. Posts are guarded per attempt in the job record; a reporter that died between posting
and recording looks for its own message (by metadata) before posting again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from slack_sdk.errors import SlackApiError

from docjobs.bot.slack_calls import Deferred, SlackCalls
from docjobs.bot.views import REACTIONS, build_outcome_text, build_progress_message
from docjobs.jobs.events import EventStream
from docjobs.jobs.messages import MessageReactions
from docjobs.jobs.model import FINAL_STATES, Job, ended_field
from docjobs.jobs.store import JobStore

logger = logging.getLogger(__name__)

FINAL_STATE_NAMES = {state.value for state in FINAL_STATES}
PROGRESS_KIND = "docjobs_progress"
OUTCOME_KIND = "docjobs_outcome"
# A post claimed this long ago and never marked done: its reporter died mid-post.
GUARD_STALE_S = 20.0
# Looking for a post that may have landed: the job record's times come from other machines'
# clocks than Slack's, so the look-up starts this much before the post could have been made.
LOOKUP_MARGIN_S = 60.0
# A thread may hold any number of replies; the look-up reads this many pages of them (200 a
# page) at most, and then posts again, as it must rather than never post.
LOOKUP_PAGE_LIMIT = 200
LOOKUP_MAX_PAGES = 10
# Slack's answers that say the job's thread cannot be written to as things stand: the bot
# was removed from the channel or it was archived, the thread or message is gone.
THREAD_UNREACHABLE = {
    "not_in_channel",
    "is_archived",
    "channel_not_found",
    "thread_not_found",
    "message_not_found",
    "cant_update_message",
    "restricted_action",
    "restricted_action_read_only_channel",
    "restricted_action_thread_only",
}


def _shown_field(job: Job) -> str:
    return f"shown:{job.attempt}"


def _shown(job: Job) -> str:
    """What the progress message shows of the job, as the job record keeps it."""
    return repr((job.attempt, job.state, job.step, job.percent, job.detail, job.reason))


def _method_of(exc: SlackApiError) -> str:
    return str(exc.response.api_url).rsplit("/", 1)[-1]


class Reporter:
    def __init__(
        self,
        *,
        store: JobStore,
        stream: EventStream,
        calls: SlackCalls,
        consumer: str,
        edit_interval_s: float = 3.0,
        claim_after_s: float = 15.0,
        sweep_interval_s: float = 10.0,
        sweep: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        self.messages = MessageReactions(store.client)
        self.stream = stream
        self.calls = calls
        self.consumer = consumer
        self.edit_interval_s = edit_interval_s
        self.claim_after_ms = int(claim_after_s * 1000)
        self.sweep_interval_s = sweep_interval_s
        self.sweep = sweep
        self.pending: dict[str, set[str]] = {}
        self.next_try: dict[str, float] = {}
        self.edited_at: dict[str, float] = {}  # this reporter's last post or edit, for pacing
        self._uncertain: set[tuple[str, str]] = set()
        # Posts made (or found) whose guard is not yet recorded done: Redis failed just then.
        self._posted: dict[tuple[str, str], str] = {}
        # The reaction each job's own state called for when this process last synced it.
        self._reacted: dict[str, str] = {}
        self._next_claim = 0.0
        self._next_sweep = 0.0

    def run(self, stop: threading.Event) -> None:
        # Any Redis error is waited out, not only a lost connection: after a failover the
        # reporter may first reach a read-only replica, or a Redis out of memory (OOM, MISCONF).
        quiet_until = 0.0
        ready = False
        while not stop.is_set():
            try:
                if not ready:
                    self.stream.ensure_group()
                    ready = True
                self.run_once()
            except redis.RedisError as exc:
                if time.monotonic() >= quiet_until:  # one line a minute, not one a second
                    logger.warning(
                        "Redis refused or failed (%s: %s); retrying", type(exc).__name__, exc
                    )
                    quiet_until = time.monotonic() + 60.0
                stop.wait(1.0)

    def run_once(self) -> None:
        now = time.monotonic()
        events = []
        if now >= self._next_claim:
            events += self.stream.claim_stale(self.consumer, min_idle_ms=self.claim_after_ms)
            self._next_claim = now + min(5.0, self.claim_after_ms / 3000)
        due = list(self.next_try.values())
        block_ms = 1000 if not due else int(max(10, min(1000, (min(due) - now) * 1000)))
        events += self.stream.read(self.consumer, count=200, block_ms=block_ms)
        for msg_id, fields in events:
            job_id = fields.get("job_id")
            if job_id:
                self.pending.setdefault(job_id, set()).add(msg_id)
                if fields.get("state") in FINAL_STATE_NAMES:
                    self.next_try[job_id] = 0.0  # an outcome does not wait for edit pacing
                else:
                    self.next_try.setdefault(job_id, 0.0)
            else:
                self.stream.ack(msg_id)
        self.flush()
        if self.sweep is not None and now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval_s
            try:
                self.sweep()
            except Exception:
                logger.exception("sweep failed")

    def flush(self) -> None:
        now = time.monotonic()
        for job_id in sorted(self.pending, key=lambda j: self.next_try.get(j, 0.0)):
            if self.next_try.get(job_id, 0.0) > now:
                continue
            try:
                caught_up = self.render(job_id)
            except Deferred as deferred:
                self.next_try[job_id] = now + deferred.wait_s
                continue
            except redis.ConnectionError:
                raise
            except SlackApiError as exc:
                error = str(exc.response.get("error", ""))
                if error not in THREAD_UNREACHABLE:
                    logger.exception("job %s: could not update its thread; trying again", job_id)
                    self.next_try[job_id] = now + 5.0
                    continue
                # Trying again changes nothing until someone acts (invites the bot back,
                # unarchives the channel), and would hold these events for ever; a later
                # event of the job tries once more.
                logger.error(
                    "job %s: its thread cannot be reached (%s: %s); dropping %d event(s)",
                    job_id,
                    _method_of(exc),
                    error,
                    len(self.pending.get(job_id, ())),
                )
                caught_up = True
            except Exception:
                logger.exception("job %s: could not update its thread; trying again", job_id)
                self.next_try[job_id] = now + 5.0
                continue
            if caught_up:
                self.stream.ack(*self.pending.pop(job_id))
                self.next_try.pop(job_id, None)

    def render(self, job_id: str) -> bool:
        """Bring the thread up to the job's current state; False if an edit must wait.

        The reaction goes first when it can, but it never holds up the messages: when
        reactions are rate limited the thread still moves, and the reaction follows. A final
        state's reply goes out at once, ahead of the paced edit that shows it on the progress
        message, so a job's outcome never waits for the edit pace or for chat.update's budget."""
        job = self.store.get(job_id)
        if job is None:
            return True
        reaction_wait = self._try_reaction(job)
        if job.is_final and self.store.get_field(job_id, f"edited:{job.attempt}") == "done":
            caught_up = True  # this attempt's thread is complete (redelivered event)
        else:
            self._ensure_progress_message(job)
            if job.is_final:
                if self.store.get_field(job_id, f"outcome:{job.attempt}") != "done":
                    self._post_outcome(job)
                caught_up = self._edit_progress(job)
                if caught_up:
                    self.store.set_fields(job_id, **{f"edited:{job.attempt}": "done"})
                    self.edited_at.pop(job_id, None)
                    if reaction_wait is None:
                        self._reacted.pop(job_id, None)  # its thread is complete
            else:
                caught_up = self._edit_progress(job)
        if reaction_wait is not None:
            raise Deferred(reaction_wait)
        return caught_up

    # --- the pieces --------------------------------------------------------------------------

    def _ensure_progress_message(self, job: Job) -> None:
        if job.progress_attempt == job.attempt and job.progress_ts:
            return
        self._post_earlier_outcomes(job)
        guard = f"progress:{job.attempt}"
        self._claim(job, guard)
        text, blocks = build_progress_message(job)
        ts, found = self._post_once(
            job, guard, text=text, blocks=blocks, metadata=_metadata(PROGRESS_KIND, job)
        )
        if not found:  # one found may show an earlier state: the edit brings it up to date
            self._drew(job, time.monotonic())
        self.store.set_fields(job.id, progress_ts=ts, progress_attempt=job.attempt)
        self._done(job, guard)
        job.progress_ts, job.progress_attempt = ts, job.attempt

    def _post_earlier_outcomes(self, job: Job) -> None:
        """Before a new attempt's first message: the outcome of each earlier attempt that a
        person retried before its reply was posted (Slack refusing posts, or the reply
        waiting for its pace), from the record the retry kept. Every attempt's outcome
        reaches the thread, in order."""
        for attempt in range(max(1, job.progress_attempt), job.attempt):
            if self.store.get_field(job.id, f"outcome:{attempt}") == "done":
                continue
            ended = self.store.get_field(job.id, ended_field(attempt))
            if ended:
                self._post_outcome(Job.from_snapshot(ended))

    def _edit_progress(self, job: Job) -> bool:
        # What the message shows is read from the job record: another reporter may have
        # drawn a later state since this one last drew it (they share the events).
        if self.store.get_field(job.id, _shown_field(job)) == _shown(job):
            return True
        last = self.edited_at.get(job.id)
        now = time.monotonic()
        if last is not None and now - last < self.edit_interval_s:
            self.next_try[job.id] = last + self.edit_interval_s
            return False
        text, blocks = build_progress_message(job)
        self.calls.call(
            "chat.update", channel=job.channel, ts=job.progress_ts, text=text, blocks=blocks
        )
        self._drew(job, now)
        return True

    def _drew(self, job: Job, at: float) -> None:
        self.edited_at[job.id] = at
        self.store.set_fields(job.id, **{_shown_field(job): _shown(job)})

    def _try_reaction(self, job: Job) -> float | None:
        try:
            self._sync_reaction(job)
        except Deferred as deferred:
            return deferred.wait_s
        return None

    def _sync_reaction(self, job: Job) -> None:
        """One reaction on the shared message for every job it carries (a message holds up to
        10 files): the hourglass while any is at work, then one end for all. It changes only
        under the message's lock, from states read under it, so reporters ending two of its
        jobs at once never leave it showing both ends.

        A job's reaction can change only when its own state does: once this process has
        brought the message up to the job's state, later renders of that state (progress)
        skip the look at the message's jobs."""
        if not job.message_ts:
            return
        own = REACTIONS[job.state]
        if self._reacted.get(job.id) == own:
            return
        self._bring_reaction_up(job)
        self._reacted[job.id] = own

    def _bring_reaction_up(self, job: Job) -> None:
        # Out of reactions for now (Tier 3): no look at the message, no lock, until there are.
        wait = self.calls.pacer.ready_in("reactions.add")
        if wait > 0:
            raise Deferred(wait)
        wanted, shown = self._reaction_of(job)
        if shown == wanted:
            return
        with self.messages.locked(job) as held:
            if not held:
                raise Deferred(0.2)  # another reporter is changing it: look again then
            wanted, shown = self._reaction_of(job)  # it may have changed it just now
            if shown == wanted:
                return
            try:
                if shown:
                    self.calls.call(
                        "reactions.remove",
                        channel=job.channel,
                        timestamp=job.message_ts,
                        name=shown,
                    )
                    self.messages.record(job, "")  # removed: never remove it twice
                self.calls.call(
                    "reactions.add", channel=job.channel, timestamp=job.message_ts, name=wanted
                )
            except SlackApiError as exc:
                # Slack refused it for good (too many reactions, a missing scope, the message
                # gone): recorded as given, so neither the thread nor later renders wait on it.
                error = exc.response.get("error", "")
                logger.warning(
                    "job %s: %s refused (%s); going without", job.id, _method_of(exc), error
                )
            self.messages.record(job, wanted)

    def _reaction_of(self, job: Job) -> tuple[str, str]:
        """The reaction the job's message should show, and the one it shows."""
        state, shown = self.messages.look(job)
        # Nothing recorded for the message: its jobs were reported on before the message had
        # a record, when each job kept the reaction it had set.
        return REACTIONS[state], job.reaction if shown is None else shown

    def _post_outcome(self, job: Job) -> None:
        guard = f"outcome:{job.attempt}"
        self._claim(job, guard)
        self._post_once(
            job, guard, text=build_outcome_text(job), metadata=_metadata(OUTCOME_KIND, job)
        )
        self._done(job, guard)

    def _done(self, job: Job, guard: str) -> None:
        self.store.set_fields(job.id, **{guard: "done"})
        self._posted.pop((job.id, guard), None)

    def _post_once(self, job: Job, guard: str, **message: object) -> tuple[str, bool]:
        """Post into the job's thread; after an attempt that may have landed (a timeout, a
        5xx, a reporter that died mid-post), look for it in the thread before posting again;
        a post this reporter made but could not record (Redis down) is not made again.
        Returns the message's ts and whether it was already there."""
        key = (job.id, guard)
        if key in self._posted:
            return self._posted[key], True
        kind = str(message["metadata"]["event_type"])  # type: ignore[index]
        if key in self._uncertain:
            found = self._find_own(job, kind)
            if found is not None:
                self._uncertain.discard(key)
                self._posted[key] = found
                return found, True
        try:
            reply = self.calls.call(
                "chat.postMessage", channel=job.channel, thread_ts=job.thread_ts, **message
            )
        except Deferred as deferred:
            if deferred.maybe_applied:
                self._uncertain.add(key)
            raise
        self._uncertain.discard(key)
        self._posted[key] = ts = str(reply["ts"])
        return ts, False

    def _claim(self, job: Job, guard: str) -> None:
        """Take the right to post `guard`; raises Deferred while another reporter is at it.
        Taking over from one that died mid-post, its message may exist: the post looks for
        it first, on every try until the look-up gets an answer."""
        mine = f"{self.consumer}@{time.time():.3f}"
        if self.store.claim_field(job.id, guard, mine):
            return
        held = self.store.get_field(job.id, guard) or ""
        owner, _, since = held.partition("@")
        if owner == self.consumer:
            return
        if held == "done":
            raise Deferred(0.1)  # someone finished it just now: re-read the job
        if time.time() - float(since or 0) < GUARD_STALE_S:
            raise Deferred(2.0)
        self.store.set_fields(job.id, **{guard: mine})
        self._uncertain.add((job.id, guard))

    def _find_own(self, job: Job, kind: str) -> str | None:
        """The ts of this attempt's `kind` message in the job's thread, if it is there. Only
        replies since the post could first have been made are read, page after page: a busy
        thread's first page may end long before the bot's message."""
        args: dict[str, object] = {"ts": job.thread_ts, "include_all_metadata": True}
        after = self._posted_after(job, kind)
        if after > 0:
            args["oldest"] = f"{max(0.0, after - LOOKUP_MARGIN_S):.6f}"
        cursor = ""
        for _ in range(LOOKUP_MAX_PAGES):
            if cursor:
                args["cursor"] = cursor
            reply = self.calls.call(
                "conversations.replies", channel=job.channel, limit=LOOKUP_PAGE_LIMIT, **args
            )
            for message in reply.get("messages", []):
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if (
                    meta.get("event_type") == kind
                    and payload.get("job_id") == job.id
                    and int(payload.get("attempt", 0)) == job.attempt
                ):
                    return str(message["ts"])
            cursor = str((reply.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return None
        logger.warning(
            "job %s: %d pages of its thread read without finding its %s message; posting it",
            job.id,
            LOOKUP_MAX_PAGES,
            kind,
        )
        return None

    def _posted_after(self, job: Job, kind: str) -> float:
        """A time (by the job record's clocks) before any try at posting the attempt's `kind`
        message, whichever reporter made it: its outcome follows its end; its progress
        message, the job's creation or, for a retry, the end of the attempt before."""
        if kind == OUTCOME_KIND and job.finished_at:
            return job.finished_at
        if kind == PROGRESS_KIND and job.attempt > 1:
            ended = self.store.get_field(job.id, ended_field(job.attempt - 1))
            finished = Job.from_snapshot(ended).finished_at if ended else 0.0
            if finished:
                return finished
        return job.created_at


def _metadata(kind: str, job: Job) -> dict[str, object]:
    return {"event_type": kind, "event_payload": {"job_id": job.id, "attempt": job.attempt}}
