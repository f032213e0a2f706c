"""files.info: the full file object (with its `shares`), as the bot needs for a stub file."""

from __future__ import annotations

from typing import Any

from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.methods.registry import Call, method


@method("files.info")
def files_info(call: Call) -> dict[str, Any]:
    shared = call.workspace.files.get(call.text("file"))
    if shared is None:
        raise SlackError("file_not_found")
    config = call.config
    file = shared.to_api(
        base_url=call.base_url, team_id=config.team_id, team_domain=config.team_domain
    )
    channels = [shared.channel]
    file.update(
        channels=channels if shared.channel.startswith("C") else [],
        groups=channels if shared.channel.startswith("G") else [],
        ims=channels if shared.channel.startswith("D") else [],
        shares=shared.shares(),
    )
    return {"file": file, "comments": [], "response_metadata": {"next_cursor": ""}}
