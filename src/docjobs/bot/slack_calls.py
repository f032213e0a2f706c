"""Web API calls made by the reporter: paced, with 429 and outages turned into "try later"."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from docjobs.bot.pacing import SlackPacer

logger = logging.getLogger(__name__)

HARMLESS_ERRORS = {"already_reacted", "no_reaction"}


class Deferred(Exception):
    """Not now: Slack asked us to wait, or our own pacing says so."""

    def __init__(self, wait_s: float, *, maybe_applied: bool = False) -> None:
        super().__init__(f"deferred {wait_s:.2f}s")
        self.wait_s = wait_s
        # A timeout or a 5xx: Slack may have done it anyway, so look before doing it again.
        self.maybe_applied = maybe_applied


class SlackCalls:
    def __init__(self, client: WebClient, pacer: SlackPacer) -> None:
        self.client = client
        self.pacer = pacer
        self.counts: Counter[str] = Counter()

    def call(self, method: str, *, channel: str = "", **kwargs: Any) -> dict[str, Any]:
        """Writes go as JSON (as slack_sdk sends them); reads as form fields, which every
        Web API method accepts."""
        wait = self.pacer.wait_time(method, channel)
        if wait > 0:
            raise Deferred(wait)
        self.counts[method] += 1
        try:
            body = {"channel": channel, **kwargs}
            if method.startswith(("conversations.", "users.", "files.")):
                response = self.client.api_call(method, params=body)
            else:
                response = self.client.api_call(method, json=body)
        except SlackApiError as exc:
            status = exc.response.status_code
            error = exc.response.get("error", "") if exc.response is not None else ""
            if status == 429:
                retry_after = float(exc.response.headers.get("Retry-After", 1))
                self.pacer.rate_limited(method, retry_after)
                self.counts["429"] += 1
                logger.warning("%s rate limited; waiting %.0fs", method, retry_after)
                raise Deferred(retry_after) from exc
            if error in HARMLESS_ERRORS:
                return {"ok": True, "error": error}
            if status >= 500:
                raise Deferred(2.0, maybe_applied=True) from exc
            raise
        # Timeouts, resets, refused connections, a non-JSON error page: try again later.
        except (OSError, ValueError) as exc:
            logger.warning("%s failed: %s; will retry", method, exc)
            raise Deferred(2.0, maybe_applied=True) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}
