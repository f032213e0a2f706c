"""The one error the Web API methods raise: Slack's error code, answered as HTTP 200."""

from __future__ import annotations


class SlackError(Exception):
    """`{"ok": false, "error": code}`: Slack reports method errors in the body, not the status."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
