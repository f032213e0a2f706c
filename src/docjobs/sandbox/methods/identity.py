"""auth.test (who the token is) and users.info (who a user is: any user id is a plain member
unless the control API made them an admin or owner)."""

from __future__ import annotations

from typing import Any

from docjobs.sandbox.errors import SlackError
from docjobs.sandbox.methods.registry import Call, method
from docjobs.sandbox.state import USER_ID


@method("auth.test")
def auth_test(call: Call) -> dict[str, Any]:
    config = call.config
    return {
        "url": f"https://{config.team_domain}.slack.com/",
        "team": config.team_domain,
        "user": config.bot_name,
        "team_id": config.team_id,
        "user_id": config.bot_user_id,
        "bot_id": config.bot_id,
        "is_enterprise_install": False,
    }


@method("users.info")
def users_info(call: Call) -> dict[str, Any]:
    user = call.text("user")
    if not USER_ID.match(user):
        raise SlackError("user_not_found")
    profile = call.workspace.user_profile(
        user, bot_user_id=call.config.bot_user_id, team_id=call.config.team_id
    )
    return {"user": profile}
