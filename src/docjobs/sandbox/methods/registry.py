"""The Web API method table and what each method gets: the parsed arguments and the sandbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.models import Message

if TYPE_CHECKING:
    from docjobs.sandbox.config import SandboxConfig
    from docjobs.sandbox.sandbox import Sandbox
    from docjobs.sandbox.state import Workspace

TRUE = ("1", "true", "yes")


@dataclass
class Call:
    sandbox: Sandbox
    args: dict[str, Any]
    base_url: str

    @property
    def config(self) -> SandboxConfig:
        return self.sandbox.config

    @property
    def workspace(self) -> Workspace:
        return self.sandbox.workspace

    def text(self, name: str) -> str:
        value = self.args.get(name)
        return "" if value is None else str(value)

    def flag(self, name: str) -> bool:
        value = self.args.get(name)
        return value is True or str(value).lower() in TRUE

    def number(self, name: str, *, default: int, low: int = 1, high: int = 1000) -> int:
        value = self.args.get(name)
        if value in (None, ""):
            return default
        try:
            return max(low, min(int(value), high))
        except (TypeError, ValueError):
            raise SlackError("invalid_arguments") from None

    def message(self, ts_arg: str = "ts") -> Message:
        """The message named by `channel` and `ts_arg`, or Slack's error for what is missing."""
        channel = self.text("channel")
        self.workspace.known_channel(channel)
        message = self.workspace.find(channel, self.text(ts_arg))
        if message is None:
            raise SlackError("message_not_found")
        return message


Method = Callable[[Call], dict[str, Any]]
METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    def register(handler: Method) -> Method:
        METHODS[name] = handler
        return handler

    return register
