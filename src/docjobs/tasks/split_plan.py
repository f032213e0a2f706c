"""A split job's plan in Redis: its page ranges, what each part has produced, how many pages
are read, and whether it has been joined. One hash per (job, attempt), so a retried job's new
attempt never mixes with the old one's parts; every change that must not happen twice is one
Lua script."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass

import redis
from redis.client import NEVER_DECODE

from docjobs.jobs.store import PREFIX

PLAN_TTL_S = 24 * 3600
# The smallest part worth its own task: below this its fixed costs (a message, a lease, the
# extra chunks cut at its seams) outweigh the waiting it saves at the end of a job.
SMALLEST_PART = 10
PROGRESS_LOCK_MS = 5000

_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'parts', ARGV[1], 'pages', ARGV[2], 'done', 0, 'pages_done', 0,
  'retries', 0, 'busy_ms', 0, 'pdfium_checked', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
# Store a part's output (its text and its rows) once: a redelivered part finds its fields
# there and counts nothing.
_STORE_PART = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
if redis.call('HSETNX', KEYS[1], 'part:' .. ARGV[1], ARGV[2]) == 0 then
  return {0, tonumber(redis.call('HGET', KEYS[1], 'done'))}
end
redis.call('HSET', KEYS[1], 'rows:' .. ARGV[1], ARGV[3])
return {1, redis.call('HINCRBY', KEYS[1], 'done', 1)}
"""
# Pages read so far, counting each part's best (a retried part reads its pages again), and
# the progress lock: whoever holds it reports, so reported percents only ever rise.
_PAGES = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0} end
local field = 'seen:' .. ARGV[1]
local seen = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local now = tonumber(ARGV[2])
local total = tonumber(redis.call('HGET', KEYS[1], 'pages_done'))
if now > seen then
  redis.call('HSET', KEYS[1], field, now)
  total = redis.call('HINCRBY', KEYS[1], 'pages_done', now - seen)
end
local locked = redis.call('SET', KEYS[2], ARGV[3], 'NX', 'PX', ARGV[4])
return {total, locked and 1 or 0}
"""
_UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_ADD = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
"""


@dataclass(frozen=True)
class PartSpec:
    index: int
    first_page: int
    last_page: int

    @property
    def pages(self) -> int:
        return self.last_page - self.first_page + 1


def plan_parts(pages: int, *, per_part: int) -> list[PartSpec]:
    """Page ranges covering 1..pages in parts of at most `per_part` pages, as even as can be,
    but for the last few, which halve in size (down to SMALLEST_PART pages): the processes
    taking a job's parts in turn then run out of work at about the same time, instead of one
    waiting while another reads a whole part."""
    per_part = max(per_part, 1)
    tail: list[int] = []
    size = per_part // 2
    while size >= SMALLEST_PART and pages - sum(tail) - size >= per_part:
        tail.append(size)
        size //= 2
    body = pages - sum(tail)
    count = max(1, math.ceil(body / per_part))
    size, extra = divmod(body, count)
    sizes = [size + (1 if index < extra else 0) for index in range(count)] + tail
    specs, first = [], 1
    for index, pages_in_part in enumerate(sizes):
        specs.append(PartSpec(index, first, first + pages_in_part - 1))
        first += pages_in_part
    return specs


def plan_key(job_id: str, attempt: int) -> str:
    return f"{PREFIX}parts:{job_id}:{attempt}"


class SplitPlan:
    """One attempt's plan; `client` must decode responses (docjobs.jobs.connection.connect)."""

    def __init__(self, client: redis.Redis, job_id: str, attempt: int) -> None:
        self.client = client
        self.job_id, self.attempt = job_id, attempt
        self.key = plan_key(job_id, attempt)
        self.joined_key = self.key + ":joined"
        self.lock_key = self.key + ":progress"

    def create(self, parts: list[PartSpec], *, pages: int, pdfium_checked: str = "") -> bool:
        """Write the plan unless this attempt already has one; returns whether it wrote it.
        `pdfium_checked`: the digest of the file if it passed the stream check for pdfium
        (extract_pdfium.trust_checked), so the parts need not check it again."""
        ranges = json.dumps([[p.first_page, p.last_page] for p in parts])
        created = self.client.eval(_CREATE, 1, self.key, ranges, pages, PLAN_TTL_S, pdfium_checked)
        return bool(created)

    def exists(self) -> bool:
        return bool(self.client.exists(self.key))

    def parts(self) -> list[PartSpec]:
        raw = self.client.hget(self.key, "parts")
        ranges = json.loads(raw) if raw else []
        return [PartSpec(i, first, last) for i, (first, last) in enumerate(ranges)]

    def pages(self) -> int:
        return int(self.client.hget(self.key, "pages") or 0)

    def pdfium_checked(self) -> str:
        """The digest of the file the job's task checked for pdfium, or "" if it did not."""
        return str(self.client.hget(self.key, "pdfium_checked") or "")

    def stored(self) -> set[int]:
        """The indexes of the parts whose output is in."""
        fields = [str(name) for name in self.client.hkeys(self.key)]
        return {int(name.split(":", 1)[1]) for name in fields if name.startswith("part:")}

    def store_part(self, index: int, text: bytes, rows: bytes) -> tuple[bool, int] | None:
        """Store a part's packed output once; (newly stored, parts done), or None if the plan
        is gone."""
        new, done = self.client.eval(_STORE_PART, 1, self.key, index, text, rows)
        return None if int(new) < 0 else (int(new) == 1, int(done))

    def done(self) -> int:
        return int(self.client.hget(self.key, "done") or 0)

    def record_pages(self, index: int, pages_read: int) -> tuple[int, str | None]:
        """Note that part `index` has read `pages_read` pages; returns the pages read in all
        parts, and a token if this caller holds the progress lock (release with `unlock`)."""
        token = uuid.uuid4().hex
        keys = (self.key, self.lock_key)
        total, locked = self.client.eval(
            _PAGES, 2, *keys, index, pages_read, token, PROGRESS_LOCK_MS
        )
        return int(total), token if int(locked) and int(total) >= 0 else None

    def unlock(self, token: str) -> None:
        self.client.eval(_UNLOCK, 1, self.lock_key, token)

    def add_retry(self) -> None:
        self.client.eval(_ADD, 1, self.key, "retries", 1)

    def retries(self) -> int:
        return int(self.client.hget(self.key, "retries") or 0)

    def add_join_retry(self) -> None:
        self.client.eval(_ADD, 1, self.key, "join_retries", 1)

    def join_retries(self) -> int:
        return int(self.client.hget(self.key, "join_retries") or 0)

    def add_busy(self, seconds: float) -> None:
        """Count time a part spent working on the job (its parts share one time budget)."""
        self.client.eval(_ADD, 1, self.key, "busy_ms", int(seconds * 1000))

    def busy_s(self) -> float:
        return int(self.client.hget(self.key, "busy_ms") or 0) / 1000

    def load_text(self, index: int) -> bytes | None:
        """Part `index`'s packed text (PartText), or None if it is not there."""
        return self._load(f"part:{index}")

    def load_rows(self, index: int) -> bytes | None:
        """Part `index`'s packed rows (PartRows), or None if they are not there."""
        return self._load(f"rows:{index}")

    def _load(self, field: str) -> bytes | None:
        # The parts' outputs are binary: read them as bytes through the decoding client.
        value = self.client.execute_command("HGET", self.key, field, **{NEVER_DECODE: []})
        return None if value is None else bytes(value)

    def is_joined(self) -> bool:
        return bool(self.client.exists(self.joined_key))

    def mark_joined(self) -> None:
        """The outcome is sent: drop the parts' outputs, remember that it was joined."""
        pipe = self.client.pipeline()
        pipe.set(self.joined_key, "1", ex=PLAN_TTL_S)
        pipe.delete(self.key, self.lock_key)
        pipe.execute()

    def delete(self) -> bool:
        """Drop the plan; returns whether there was one."""
        return bool(self.client.delete(self.key, self.lock_key))
