"""Signed delivery to the bot, as Slack does it: events as JSON with retries on failure
(`X-Slack-Retry-Num`, `X-Slack-Retry-Reason`), commands and actions form-encoded, every body
signed v0 with the signing secret over `v0:{timestamp}:{raw body}`."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from docjobs.sandbox.config import SandboxConfig
from docjobs.sandbox.state import Workspace


class Deliverer:
    def __init__(self, config: SandboxConfig, workspace: Workspace) -> None:
        self.config = config
        self.workspace = workspace
        self.signer = SignatureVerifier(config.signing_secret)
        self.client = httpx.Client(timeout=httpx.Timeout(config.ack_timeout_s, connect=2.0))
        self._threads: list[threading.Thread] = []

    def close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=0.1)
        self.client.close()

    def signed_headers(self, body: str, content_type: str) -> dict[str, str]:
        timestamp = str(int(time.time()))
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": self.signer.generate_signature(timestamp=timestamp, body=body),
        }

    def post(
        self, body: str, content_type: str, extra: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """One attempt; what happened, including Slack's view of a slow answer (timeout)."""
        if not self.config.bot_endpoint_url:
            return {"status": None, "reason": "no_endpoint", "elapsed_ms": 0.0, "body": ""}
        headers = {**self.signed_headers(body, content_type), **(extra or {})}
        started = time.monotonic()
        try:
            response = self.client.post(
                self.config.bot_endpoint_url, content=body.encode(), headers=headers
            )
        except httpx.TimeoutException:
            return {
                "status": None,
                "reason": "http_timeout",
                "body": "",
                "elapsed_ms": (time.monotonic() - started) * 1000,
            }
        except httpx.HTTPError:
            return {
                "status": None,
                "reason": "connection_failed",
                "body": "",
                "elapsed_ms": (time.monotonic() - started) * 1000,
            }
        elapsed = (time.monotonic() - started) * 1000
        ok = 200 <= response.status_code < 300
        return {
            "status": response.status_code,
            "reason": None if ok else "http_error",
            "body": response.text,
            "elapsed_ms": elapsed,
            "no_retry": response.headers.get("x-slack-no-retry") == "1",
            "content_type": response.headers.get("content-type", ""),
        }

    # --- events --------------------------------------------------------------------------------

    def envelope(self, event: dict[str, Any]) -> dict[str, Any]:
        config = self.config
        return {
            "token": "sandbox-verification-token",
            "team_id": config.team_id,
            "api_app_id": config.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": self.workspace.next_id("Ev"),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": config.team_id,
                    "user_id": config.bot_user_id,
                    "is_bot": True,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def send_event(self, event: dict[str, Any], *, redeliver: int = 0, wait: bool = False) -> str:
        envelope = self.envelope(event)
        first_done = threading.Event()
        thread = threading.Thread(
            target=self._deliver,
            args=(envelope, redeliver, first_done),
            name=f"deliver-{envelope['event_id']}",
            daemon=True,
        )
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        if wait:
            first_done.wait(timeout=self.config.ack_timeout_s + 5)
        return str(envelope["event_id"])

    def _deliver(
        self, envelope: dict[str, Any], redeliver: int, first_done: threading.Event | None = None
    ) -> None:
        body = json.dumps(envelope)
        attempt, reason = 0, None
        while True:
            extra = {}
            if attempt:
                extra = {
                    "X-Slack-Retry-Num": str(attempt),
                    "X-Slack-Retry-Reason": reason or "http_error",
                }
            result = self.post(body, "application/json", extra)
            self._log(envelope, attempt, result)
            if first_done is not None:
                first_done.set()
            failed = result["reason"] is not None and result["reason"] != "no_endpoint"
            if failed and result.get("no_retry"):
                return
            if failed and attempt < len(self.config.retry_delays):
                reason = result["reason"]
            elif attempt < redeliver:
                reason = "http_timeout"  # Slack believed the first answer was lost
            else:
                return
            delay = self.config.retry_delays[min(attempt, len(self.config.retry_delays) - 1)]
            attempt += 1
            time.sleep(delay)

    def _log(self, envelope: dict[str, Any], attempt: int, result: dict[str, Any]) -> None:
        with self.workspace.lock:
            self.workspace.deliveries.append(
                {
                    "event_id": envelope["event_id"],
                    "type": envelope["event"].get("type"),
                    "subtype": envelope["event"].get("subtype"),
                    "retry_num": attempt,
                    "status": result["status"],
                    "reason": result["reason"],
                    "elapsed_ms": result["elapsed_ms"],
                    "at": time.time(),
                }
            )

    # --- commands and actions --------------------------------------------------------------------

    def send_form(self, fields: dict[str, str]) -> dict[str, Any]:
        body = urlencode(fields)
        result = self.post(body, "application/x-www-form-urlencoded")
        result["timed_out"] = result["reason"] == "http_timeout" or (
            result["elapsed_ms"] > self.config.ack_timeout_s * 1000
        )
        return result
