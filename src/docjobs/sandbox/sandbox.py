"""The sandbox's parts in one object, hung on the FastAPI app's state, and what happens in the
workspace — posts, edits, deletions, shares — with the events Slack would send for each."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from docjobs.sandbox import events
from docjobs.sandbox.config import SandboxConfig
from docjobs.sandbox.delivery import Deliverer
from docjobs.sandbox.faults import Faults
from docjobs.sandbox.files import FileStore
from docjobs.sandbox.ids import Ids
from docjobs.sandbox.models import Message
from docjobs.sandbox.ratelimit import RateLimiter
from docjobs.sandbox.state import Workspace

# Slack's limit on the files one message may carry.
MAX_FILES_PER_MESSAGE = 10


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.ids = Ids()
        self.workspace = Workspace()
        self.limiter = RateLimiter(config.rate_limits)
        self.faults = Faults(config.seed)
        self.files = FileStore(self.ids)
        self.deliverer = Deliverer(config, self.workspace, self.ids)

    def close(self) -> None:
        self.deliverer.close()
        self.files.close()

    def reset(self) -> None:
        """A fresh workspace: no messages, files, logs, faults, or rate-limit history."""
        self.faults.clear()
        self.limiter.reset()
        with self.workspace.lock:
            old_files = list(self.workspace.files.values())
            self.workspace.clear()
        for shared in old_files:
            shared.path.unlink(missing_ok=True)

    def base_url(self, request_base: str) -> str:
        return (self.config.public_url or request_base).rstrip("/")

    def log_call(self, method: str, *, status: int, ok: bool, **details: Any) -> None:
        entry = {
            "method": method,
            "status": status,
            "ok": ok,
            "error": None,
            "channel": "",
            "fault": None,
        }
        entry.update(details, at=time.time())
        with self.workspace.lock:
            self.workspace.calls.append(entry)

    # --- what people and the bot do, and the events it makes ---------------------------------

    def post(self, message: Message, *, redeliver: int = 0, wait: bool = False) -> str | None:
        """Add a message and deliver its `message` event; the event id (None if not sent)."""
        return self._send(message, self.add(message), redeliver=redeliver, wait=wait)

    def add(self, message: Message) -> dict[str, Any]:
        """Add a message (its ts given now, under the lock, so a channel's order is its ts
        order); the `message` event for it."""
        ws = self.workspace
        with ws.lock:
            if message.thread_ts:
                root = ws.thread_root(message.channel, message.thread_ts)
                if root is None:
                    raise LookupError(f"no message {message.thread_ts} in {message.channel}")
                message.thread_ts = root
            message.ts = self.ids.next_ts()
            ws.add_message(message)
            return events.message_event(
                ws.api_message(message), channel=message.channel, config=self.config
            )

    def bot_message(self, **fields: Any) -> Message:
        config = self.config
        return Message(
            user=config.bot_user_id,
            bot_id=config.bot_id,
            app_id=config.api_app_id,
            **fields,
        )

    def edit(self, message: Message, *, by: str, **changes: Any) -> None:
        """Change a message's text/blocks/metadata: `edited` in the thread's history."""
        ws = self.workspace
        with ws.lock:
            previous = ws.api_message(message)
            for key, value in changes.items():
                setattr(message, key, value)
            edit_ts = self.ids.next_ts()
            message.edited = {"user": by, "ts": edit_ts}
            ws.record(message, "edited", text=message.text)
            event = events.message_changed_event(
                new=ws.api_message(message),
                previous=previous,
                channel=message.channel,
                event_ts=edit_ts,
            )
        self._echo(message, event)

    def delete(self, message: Message) -> None:
        ws = self.workspace
        with ws.lock:
            previous = ws.api_message(message)
            message.deleted = True
            ws.record(message, "deleted")
            event = events.message_deleted_event(
                previous=previous, channel=message.channel, event_ts=self.ids.next_ts()
            )
        self._echo(message, event)

    def _echo(self, message: Message, event: dict[str, Any]) -> None:
        self._send(message, event)

    def _send(
        self, message: Message, event: dict[str, Any], *, redeliver: int = 0, wait: bool = False
    ) -> str | None:
        """Deliver an event about `message`: the app's own only if echoing is on, none from
        a channel the bot was removed from."""
        if message.bot_id == self.config.bot_id and not self.config.echo_bot_messages:
            return None
        if message.channel in self.workspace.without_bot:
            return None
        return self.deliverer.send_event(event, redeliver=redeliver, wait=wait)

    def share(
        self,
        *,
        user: str,
        channel: str,
        filename: str,
        content: bytes | None = None,
        source: Path | None = None,
        text: str = "",
        thread_ts: str | None = None,
        base_url: str,
        redeliver: int = 0,
        wait: bool = False,
        stub: bool = False,
        **file_fields: Any,
    ) -> dict[str, Any]:
        """A user shares one file (see `share_files`)."""
        upload = {"filename": filename, "content": content, "source": source, **file_fields}
        return self.share_files(
            user=user,
            channel=channel,
            files=[upload],
            text=text,
            thread_ts=thread_ts,
            base_url=base_url,
            redeliver=redeliver,
            wait=wait,
            stub=stub,
        )

    def share_files(
        self,
        *,
        user: str,
        channel: str,
        files: Sequence[dict[str, Any]],
        text: str = "",
        thread_ts: str | None = None,
        base_url: str,
        redeliver: int = 0,
        wait: bool = False,
        stub: bool = False,
    ) -> dict[str, Any]:
        """A user shares up to 10 files in one message (each given as `FileStore.add`'s
        arguments, but user and channel): the `file_share` message carrying them all, its
        `message` event, then one `file_shared` event per file — the events Slack sends."""
        if not 1 <= len(files) <= MAX_FILES_PER_MESSAGE:
            raise ValueError(f"a message carries 1 to {MAX_FILES_PER_MESSAGE} files")
        ws = self.workspace
        with ws.lock:
            ws.open_channel(channel)
            if thread_ts and ws.thread_root(channel, thread_ts) is None:
                raise LookupError(f"no message {thread_ts} in {channel}")
        shared = [self.files.add(user=user, channel=channel, **upload) for upload in files]
        file_objects = [
            one.to_api(
                base_url=base_url, team_id=self.config.team_id, team_domain=self.config.team_domain
            )
            for one in shared
        ]
        message = Message(
            channel=channel,
            text=text,
            user=user,
            thread_ts=thread_ts,
            subtype="file_share",
            blocks=events.rich_text(text),
            files=file_objects,
        )
        with ws.lock:
            event = self.add(message)
            if stub:  # a Slack Connect share's event names the files only (reference/slack.md 4)
                stubs = [
                    {"id": one.id, "mode": "file_access", "file_access": "check_file_info"}
                    for one in shared
                ]
                event = {**event, "files": stubs}
            for one in shared:
                one.message_ts, one.thread_ts = message.ts, message.thread_ts
                ws.files[one.id] = one
        # Never wait for the bot while holding the lock: it calls back into the Web API.
        message_event_id = self._send(message, event, redeliver=redeliver, wait=wait)
        file_event_ids = []
        for one in shared:
            file_event = events.file_shared_event(
                file_id=one.id, channel=channel, user=user, event_ts=self.ids.next_ts()
            )
            # Slack's order: the `message` event first, then `file_shared`.
            file_event_ids.append(
                None
                if channel in ws.without_bot
                else self.deliverer.send_event(file_event, wait=wait, after=message_event_id)
            )
        return {
            "file_id": shared[0].id,
            "file_ids": [one.id for one in shared],
            "ts": message.ts,
            "channel": channel,
            "thread_ts": message.thread_ts,
            "file": file_objects[0],
            "files": file_objects,
            "event_ids": [message_event_id, *file_event_ids],
        }
