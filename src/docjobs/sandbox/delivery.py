"""Signed delivery to the bot, as Slack does it. Every body is signed `v0` over
`v0:{timestamp}:{raw body}`; up to two 301/302 redirects are followed (the body POSTed again).
Events go as JSON from a background thread and are retried up to 3 times (after `retry_delays`)
when the bot answers non-2xx, has not answered in full by the ack deadline, cannot be reached, or
redirects more than twice — each retry marked `X-Slack-Retry-Num`/`X-Slack-Retry-Reason` — unless
a non-2xx answer carries `X-Slack-No-Retry: 1`. Commands and actions go form-encoded, once."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

import httpx
from slack_sdk.signature import SignatureVerifier

from docjobs.sandbox.config import SandboxConfig
from docjobs.sandbox.events import envelope, subscription
from docjobs.sandbox.ids import Ids
from docjobs.sandbox.state import Workspace

logger = logging.getLogger(__name__)
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MAX_REDIRECTS = 2  # Slack follows up to two 301/302 redirects


@dataclass
class Attempt:
    """One request to the bot, as Slack saw it (`reason` None: a 2xx within the deadline)."""

    status: int | None
    reason: str | None  # http_error, http_timeout, connection_failed, too_many_redirects,
    # no_endpoint
    elapsed_ms: float
    body: str = ""
    content_type: str = ""
    no_retry: bool = False

    @property
    def failed(self) -> bool:
        return self.reason not in (None, "no_endpoint")


class Deliverer:
    def __init__(self, config: SandboxConfig, workspace: Workspace, ids: Ids) -> None:
        self.config, self.workspace, self.ids = config, workspace, ids
        self.client = httpx.Client(timeout=httpx.Timeout(config.ack_timeout_s))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        # Events whose first attempt is still to come: another event can be sent `after` one.
        self._first_pending: dict[str, threading.Event] = {}
        self._in_flight = 0  # events whose _deliver has not returned (see pending())

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=self.config.ack_timeout_s + 1)
        self.client.close()

    def pending(self) -> int:
        """Events whose delivery is not over: an attempt or a retry is still to come. At 0
        every attempt is made and logged, so a test can check that nothing more came without
        sleeping for a guess at how long retries take."""
        with self._lock:
            return self._in_flight

    def sign(self, body: str, content_type: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        signer = SignatureVerifier(self.config.signing_secret)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signer.generate_signature(timestamp=timestamp, body=body) or "",
        }

    def attempt(self, body: str, content_type: str, extra: dict[str, str] | None = None) -> Attempt:
        url = self.config.bot_endpoint_url
        if not url:
            return Attempt(status=None, reason="no_endpoint", elapsed_ms=0.0)
        # Signed just before sending, so a retry carries a fresh timestamp, as Slack's do.
        headers = {**self.sign(body, content_type), **(extra or {})}
        started = time.monotonic()
        try:
            response = self.client.post(url, content=body.encode(), headers=headers)
            for hop in range(MAX_REDIRECTS + 1):
                if response.status_code not in (301, 302) or "location" not in response.headers:
                    break
                if hop == MAX_REDIRECTS:
                    status = response.status_code
                    return Attempt(status, "too_many_redirects", _ms_since(started))
                location = response.url.join(response.headers["location"])
                response = self.client.post(location, content=body.encode(), headers=headers)
        except httpx.TimeoutException:
            return Attempt(None, "http_timeout", _ms_since(started))
        except httpx.HTTPError:
            return Attempt(None, "connection_failed", _ms_since(started))
        elapsed = _ms_since(started)
        if elapsed > self.config.ack_timeout_s * 1000:  # answered, but too late to count
            return Attempt(response.status_code, "http_timeout", elapsed)
        ok = 200 <= response.status_code < 300
        return Attempt(
            status=response.status_code,
            reason=None if ok else "http_error",
            elapsed_ms=elapsed,
            body=response.text,
            content_type=response.headers.get("content-type", ""),
            no_retry=response.headers.get("x-slack-no-retry") == "1",
        )

    # --- events ----------------------------------------------------------------------------

    def send_event(
        self,
        event: dict[str, Any],
        *,
        redeliver: int = 0,
        wait: bool = False,
        after: str | None = None,
    ) -> str:
        """Schedule delivery; the event id at once (after the first attempt if `wait`).
        `redeliver` sends N duplicates even when acked, as Slack sometimes does; `after` (an
        event id) holds the first attempt until that event's first attempt is over."""
        event_id = self.ids.next_id("Ev")
        subscribed = self.config.bot_events
        if not self.config.bot_endpoint_url or (
            subscribed is not None and subscription(event) not in subscribed
        ):
            return event_id  # it happened; this app is not told
        body = json.dumps(envelope(self.config, event, event_id))
        first_done = threading.Event()
        with self._lock:
            gate = self._first_pending.get(after or "")
            self._first_pending[event_id] = first_done
        thread = threading.Thread(
            target=self._deliver,
            args=(body, event, event_id, redeliver, first_done, gate, self.workspace.generation),
            name=f"sandbox-deliver-{event_id}",
            daemon=True,
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            self._in_flight += 1
        thread.start()
        if wait:
            first_done.wait(timeout=self.config.ack_timeout_s + 5)
        return event_id

    def _deliver(
        self,
        body: str,
        event: dict[str, Any],
        event_id: str,
        redeliver: int,
        first_done: threading.Event,
        gate: threading.Event | None,
        generation: int,
    ) -> None:
        delays = self.config.retry_delays
        retry_num, reason = 0, ""
        try:
            if gate is not None:
                gate.wait(timeout=self.config.ack_timeout_s + 5)
                if self._stop.is_set():
                    return
            while True:
                extra = {}
                if retry_num:
                    extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": reason}
                result = self.attempt(body, JSON, extra)
                self._log(
                    kind="event",
                    id=event_id,
                    type=event.get("type"),
                    subtype=event.get("subtype"),
                    retry_num=retry_num,
                    retry_reason=reason or None,
                    result=result,
                )
                self._first_attempt_over(event_id, first_done)
                if result.failed and result.no_retry:
                    return
                if result.failed and retry_num < len(delays):
                    reason = str(result.reason)
                elif retry_num < redeliver:
                    reason = str(result.reason) if result.failed else "http_timeout"
                else:
                    return
                delay = delays[min(retry_num, len(delays) - 1)] if delays else 0.0
                if self._stop.wait(delay) or self.workspace.generation != generation:
                    return
                retry_num += 1
        except Exception:
            if not self._stop.is_set():
                logger.exception("delivery of %s failed", event_id)
        finally:
            self._first_attempt_over(event_id, first_done)
            with self._lock:
                self._in_flight -= 1

    def _first_attempt_over(self, event_id: str, first_done: threading.Event) -> None:
        with self._lock:
            self._first_pending.pop(event_id, None)
        first_done.set()

    # --- commands and actions --------------------------------------------------------------

    def send_form(self, body: str, *, kind: str, type: str, id: str) -> Attempt:
        """Once, synchronously: Slack does not retry commands or actions; the user sees an
        error instead (`operation_timeout` past the deadline)."""
        result = self.attempt(body, FORM)
        if result.reason != "no_endpoint":
            self._log(kind=kind, id=id, type=type, retry_num=0, retry_reason=None, result=result)
        return result

    def _log(self, *, result: Attempt, **fields: Any) -> None:
        entry = {**fields, "event_id": fields["id"] if fields["kind"] == "event" else None}
        entry.update({k: v for k, v in asdict(result).items() if k not in ("body",)})
        entry["at"] = time.time()
        with self.workspace.lock:
            self.workspace.deliveries.append(entry)


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
