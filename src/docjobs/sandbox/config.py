"""Sandbox settings, passed in by whoever starts it (never read from the environment)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SandboxConfig:
    bot_token: str = "xoxb-sandbox-token"
    signing_secret: str = "sandbox-signing-secret"
    # The bot's HTTP endpoint for events, slash commands and interactivity (None: deliver nothing).
    bot_endpoint_url: str | None = None
    # The sandbox's own base URL for file URLs (url_private); None: the URL the request came to.
    public_url: str | None = None
    team_id: str = "T0SANDBOX"
    team_domain: str = "sandbox"
    api_app_id: str = "A0SANDBOX"
    bot_user_id: str = "UBOTSANDBOX"
    bot_id: str = "BSANDBOX"
    bot_name: str = "docjobs"
    # Slack retries a failed delivery 3 times: nearly at once, after 1 minute, after 5 minutes.
    retry_delays: tuple[float, ...] = (0.0, 60.0, 300.0)
    # Slack counts a delivery (and a command or action) as failed after 3 s without an answer.
    ack_timeout_s: float = 3.0
    rate_limits: bool = True
    # How long a "timeout" fault holds a call before answering 500 (past slack_sdk's 30 s).
    fault_timeout_s: float = 35.0
    seed: int | None = None
    # The app's event subscriptions (its manifest's bot_events, e.g. "message.channels"):
    # Slack delivers nothing else. None: every event.
    bot_events: tuple[str, ...] | None = None
    # An app subscribed to message.channels also gets its own posts, edits and deletions.
    echo_bot_messages: bool = True
    # A response_url takes up to 5 answers within 30 minutes.
    response_url_uses: int = 5
    response_url_ttl_s: float = 30 * 60
