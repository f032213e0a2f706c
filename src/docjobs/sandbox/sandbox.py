"""The sandbox's parts in one object, hung on the FastAPI app's state."""

from __future__ import annotations

import mimetypes
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from docjobs.sandbox.config import SandboxConfig
from docjobs.sandbox.delivery import Deliverer
from docjobs.sandbox.faults import Faults
from docjobs.sandbox.ratelimit import RateLimiter
from docjobs.sandbox.state import Message, SharedFile, Workspace

PRETTY_TYPES = {"pdf": "PDF", "txt": "Plain Text", "zip": "Zip", "html": "HTML", "png": "PNG"}


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.workspace = Workspace()
        self.limiter = RateLimiter(config.rate_limits)
        self.faults = Faults(config.seed)
        self.deliverer = Deliverer(config, self.workspace)
        self.files_dir = Path(tempfile.mkdtemp(prefix="docjobs-sandbox-"))

    def close(self) -> None:
        self.deliverer.close()
        shutil.rmtree(self.files_dir, ignore_errors=True)

    def reset(self) -> None:
        self.faults.clear()
        self.limiter = RateLimiter(self.config.rate_limits)
        old = self.workspace
        self.workspace = Workspace()
        self.deliverer.workspace = self.workspace
        for shared in old.files.values():
            shared.path.unlink(missing_ok=True)

    def add_file(
        self,
        *,
        user: str,
        channel: str,
        filename: str,
        content: bytes,
        mimetype: str | None = None,
        filetype: str | None = None,
    ) -> SharedFile:
        file_id = self.workspace.next_id("F")
        path = self.files_dir / file_id
        path.write_bytes(content)
        guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        suffix = Path(filename).suffix.lstrip(".").lower()
        shared = SharedFile(
            id=file_id,
            name=filename,
            mimetype=mimetype or guessed,
            filetype=filetype or suffix or "binary",
            size=len(content),
            path=path,
            user=user,
            channel=channel,
            created=int(time.time()),
        )
        with self.workspace.lock:
            self.workspace.files[file_id] = shared
        return shared

    def file_object(self, shared: SharedFile) -> dict[str, Any]:
        base = f"{self.config.public_url}/files-pri/{self.config.team_id}-{shared.id}"
        return {
            "id": shared.id,
            "created": shared.created,
            "timestamp": shared.created,
            "name": shared.name,
            "title": shared.name,
            "mimetype": shared.mimetype,
            "filetype": shared.filetype,
            "pretty_type": PRETTY_TYPES.get(shared.filetype, shared.filetype.upper()),
            "user": shared.user,
            "user_team": self.config.team_id,
            "editable": False,
            "size": shared.size,
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": True,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{shared.name}",
            "url_private_download": f"{base}/download/{shared.name}",
            "permalink": f"https://{self.config.team_domain}.slack.com/files/{shared.user}/"
            f"{shared.id}/{shared.name}",
            "has_rich_preview": False,
            "file_access": "visible",
        }

    def share(
        self,
        *,
        shared: SharedFile,
        text: str = "",
        thread_ts: str | None = None,
        redeliver: int = 0,
        wait: bool = False,
    ) -> dict[str, Any]:
        """A user's message carrying the file, then the two events Slack sends for it."""
        ws = self.workspace
        if thread_ts and ws.find(shared.channel, thread_ts) is None:
            raise ValueError(f"no message {thread_ts} in {shared.channel}")
        file_object = self.file_object(shared)
        message = ws.add_message(
            Message(
                ts=ws.next_ts(),
                channel=shared.channel,
                text=text,
                user=shared.user,
                thread_ts=thread_ts,
                subtype="file_share",
                files=[file_object],
            )
        )
        event = {
            "type": "message",
            "subtype": "file_share",
            "text": text,
            "files": [file_object],
            "upload": True,
            "user": shared.user,
            "display_as_bot": False,
            "ts": message.ts,
            "channel": shared.channel,
            "event_ts": message.ts,
            "channel_type": "channel",
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        message_event = self.deliverer.send_event(event, redeliver=redeliver, wait=wait)
        file_event = self.deliverer.send_event(
            {
                "type": "file_shared",
                "channel_id": shared.channel,
                "file_id": shared.id,
                "user_id": shared.user,
                "file": {"id": shared.id},
                "event_ts": ws.next_ts(),
            },
            wait=wait,
        )
        return {
            "file_id": shared.id,
            "ts": message.ts,
            "channel": shared.channel,
            "event_ids": [message_event, file_event],
        }
