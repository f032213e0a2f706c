"""Sandbox settings, passed in by whoever starts it (never read from the environment)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SandboxConfig:
    bot_token: str = "xoxb-sandbox-token"
    signing_secret: str = "sandbox-signing-secret"
    # The bot's HTTP endpoint for events, slash commands and interactivity (None: deliver nothing).
    bot_endpoint_url: str | None = None
    # The sandbox's own base URL, used to build file URLs (url_private).
    public_url: str = "http://127.0.0.1:8100"
    team_id: str = "T0SANDBOX"
    team_domain: str = "sandbox"
    api_app_id: str = "A0SANDBOX"
    bot_user_id: str = "UBOTSANDBOX"
    bot_id: str = "BSANDBOX"
    # Slack retries a failed delivery 3 times: nearly at once, after 1 minute, after 5 minutes.
    retry_delays: tuple[float, ...] = (0.0, 60.0, 300.0)
    ack_timeout_s: float = 3.0
    rate_limits: bool = True
    # How long a "timeout" fault holds a Web API call before answering 500.
    fault_timeout_s: float = 11.0
    seed: int | None = None
