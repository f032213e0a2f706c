"""The Web API through slack_sdk's WebClient over real HTTP: answers shaped as Slack's, errors
as Slack names them, and what a user sees in the thread afterwards."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.sandbox.conftest import ALICE, CHANNEL, Running

TS = re.compile(r"^\d{10}\.\d{6}$")


def error_of(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(SlackApiError) as raised:
        call(*args, **kwargs)  # type: ignore[operator]
    assert raised.value.response.status_code == 200
    return str(raised.value.response["error"])


def test_auth_test_says_who_the_bot_is_and_bad_tokens_are_refused(sandbox: Running) -> None:
    me = sandbox.slack.auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"]) == ("UBOTSANDBOX", "BSANDBOX", "T0SANDBOX")
    assert me["url"].startswith("https://")
    wrong = WebClient(token="xoxb-wrong", base_url=sandbox.slack.base_url)
    assert error_of(wrong.auth_test) == "invalid_auth"
    reply = httpx.post(f"{sandbox.url}/api/auth.test")
    assert reply.status_code == 200 and reply.json() == {"ok": False, "error": "not_authed"}
    form = httpx.post(f"{sandbox.url}/api/auth.test", data={"token": "xoxb-sandbox-token"})
    assert form.json()["ok"] is True
    assert error_of(sandbox.slack.api_call, "chat.nothing") == "unknown_method"


def test_posts_updates_and_replies_make_a_thread(sandbox: Running) -> None:
    slack = sandbox.slack
    shared = sandbox.share()
    parent = shared["ts"]
    metadata = {"event_type": "job", "event_payload": {"job_id": "abc123"}}
    first = slack.chat_postMessage(
        channel=CHANNEL, thread_ts=parent, text="queued", metadata=metadata
    )
    assert TS.match(first["ts"]) and first["ts"] > parent and first["channel"] == CHANNEL
    assert first["message"]["bot_id"] == "BSANDBOX" and first["message"]["thread_ts"] == parent
    # A reply to a reply lands in the parent's thread, as in Slack.
    second = slack.chat_postMessage(channel=CHANNEL, thread_ts=first["ts"], text="outcome")
    assert second["message"]["thread_ts"] == parent and second["ts"] > first["ts"]
    updated = slack.chat_update(channel=CHANNEL, ts=first["ts"], text="50%")
    assert updated["ts"] == first["ts"] and updated["message"]["edited"]["user"] == "UBOTSANDBOX"

    replies = slack.conversations_replies(channel=CHANNEL, ts=parent, include_all_metadata=True)
    messages = replies["messages"]
    assert [m["ts"] for m in messages] == [parent, first["ts"], second["ts"]]
    assert messages[0]["reply_count"] == 2 and messages[0]["subtype"] == "file_share"
    assert messages[1]["text"] == "50%" and messages[1]["metadata"] == metadata
    assert messages[1]["parent_user_id"] == ALICE
    plain = slack.conversations_replies(channel=CHANNEL, ts=second["ts"])
    assert [m["ts"] for m in plain["messages"]] == [parent, first["ts"], second["ts"]]
    assert "metadata" not in plain["messages"][1]

    page = slack.conversations_replies(channel=CHANNEL, ts=parent, limit=2)
    assert page["has_more"] and len(page["messages"]) == 2
    rest = slack.conversations_replies(
        channel=CHANNEL, ts=parent, limit=2, cursor=page["response_metadata"]["next_cursor"]
    )
    assert [m["ts"] for m in rest["messages"]] == [second["ts"]] and not rest["has_more"]

    history = slack.conversations_history(channel=CHANNEL)["messages"]
    assert [m["ts"] for m in history] == [parent]  # replies stay in their thread
    assert error_of(slack.conversations_history, channel=CHANNEL, oldest="abc") == (
        "invalid_arguments"
    )

    thread = sandbox.thread(parent)
    assert [r["text"] for r in thread["replies"]] == ["50%", "outcome"]
    assert [r["edited"] for r in thread["replies"]] == [True, False]
    changes = [(c["kind"], c.get("text"), c["bot_id"]) for c in thread["history"]]
    assert changes == [
        ("posted", "", None),  # Alice's share
        ("posted", "queued", "BSANDBOX"),
        ("posted", "outcome", "BSANDBOX"),
        ("edited", "50%", "BSANDBOX"),
    ]
    assert [c["seq"] for c in thread["history"]] == sorted(c["seq"] for c in thread["history"])


def test_form_encoded_calls_with_json_fields_work_like_json_ones(sandbox: Running) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    posted = sandbox.slack.api_call(
        "chat.postMessage",
        params={"channel": CHANNEL, "text": "hi", "blocks": json.dumps(blocks)},
    )
    assert posted["message"]["blocks"] == blocks
    bad = sandbox.slack.api_call
    assert error_of(bad, "chat.postMessage", params={"channel": CHANNEL, "blocks": "[nope"}) == (
        "invalid_blocks"
    )


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51,
        [{"type": "nope"}],
        [1, "a"],
        [
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "x" * 76},
                        "action_id": "a",
                    }
                ],
            }
        ],
    ],
    ids=["section text over 3000", "51 blocks", "unknown type", "not objects", "long button"],
)
def test_blocks_slack_cannot_lay_out_are_refused_and_change_nothing(
    sandbox: Running, blocks: list[object]
) -> None:
    shared = sandbox.share()
    slack = sandbox.slack
    refused = error_of(
        slack.chat_postMessage, channel=CHANNEL, thread_ts=shared["ts"], text="x", blocks=blocks
    )
    assert refused == "invalid_blocks"
    posted = slack.chat_postMessage(channel=CHANNEL, thread_ts=shared["ts"], text="fine")
    assert error_of(
        slack.chat_update, channel=CHANNEL, ts=posted["ts"], text="y", blocks=blocks
    ) == ("invalid_blocks")
    assert [r["text"] for r in sandbox.thread(shared["ts"])["replies"]] == ["fine"]


def test_slack_errors_for_what_is_missing_or_not_allowed(sandbox: Running) -> None:
    slack = sandbox.slack
    shared = sandbox.share()
    assert error_of(slack.chat_postMessage, channel="#general", text="x") == "channel_not_found"
    assert error_of(slack.api_call, "chat.postMessage", json={"channel": CHANNEL}) == "no_text"
    assert error_of(slack.chat_postMessage, channel=CHANNEL, text="x", thread_ts="1.000001") == (
        "thread_not_found"
    )
    assert error_of(slack.chat_update, channel=CHANNEL, ts="1.000001", text="x") == (
        "message_not_found"
    )
    assert error_of(slack.chat_update, channel=CHANNEL, ts=shared["ts"], text="x") == (
        "cant_update_message"
    )
    assert error_of(slack.chat_delete, channel=CHANNEL, ts=shared["ts"]) == "cant_delete_message"
    assert error_of(slack.conversations_replies, channel="C0NOBODY", ts="1.000001") == (
        "channel_not_found"
    )
    assert error_of(slack.conversations_replies, channel=CHANNEL, ts="1.000001") == (
        "thread_not_found"
    )
    assert error_of(slack.files_info, file="F0MISSING") == "file_not_found"
    assert error_of(slack.users_info, user="nobody") == "user_not_found"


def test_reactions_and_their_errors_show_in_the_history(sandbox: Running) -> None:
    slack = sandbox.slack
    ts = sandbox.share()["ts"]
    slack.reactions_add(channel=CHANNEL, timestamp=ts, name="hourglass_flowing_sand")
    assert error_of(
        slack.reactions_add, channel=CHANNEL, timestamp=ts, name="hourglass_flowing_sand"
    ) == ("already_reacted")
    slack.reactions_remove(channel=CHANNEL, timestamp=ts, name="hourglass_flowing_sand")
    assert error_of(slack.reactions_remove, channel=CHANNEL, timestamp=ts, name="x") == (
        "no_reaction"
    )
    slack.reactions_add(channel=CHANNEL, timestamp=ts, name="white_check_mark")
    assert error_of(slack.reactions_add, channel=CHANNEL, timestamp="1.000001", name="x") == (
        "message_not_found"
    )
    thread = sandbox.thread(ts)
    assert thread["parent"]["reactions"] == [
        {"name": "white_check_mark", "users": ["UBOTSANDBOX"], "count": 1}
    ]
    changes = [(c["kind"], c.get("name")) for c in thread["history"][1:]]
    assert changes == [
        ("reaction_added", "hourglass_flowing_sand"),
        ("reaction_removed", "hourglass_flowing_sand"),
        ("reaction_added", "white_check_mark"),
    ]
    assert all(c["bot_id"] == "BSANDBOX" for c in thread["history"][1:])


def test_deleted_replies_leave_the_thread_and_the_history_says_so(sandbox: Running) -> None:
    parent = sandbox.share()["ts"]
    reply = sandbox.slack.chat_postMessage(channel=CHANNEL, thread_ts=parent, text="oops")
    sandbox.slack.chat_delete(channel=CHANNEL, ts=reply["ts"])
    thread = sandbox.thread(parent)
    assert thread["replies"] == []
    assert [c["kind"] for c in thread["history"]] == ["posted", "posted", "deleted"]
    assert error_of(sandbox.slack.chat_update, channel=CHANNEL, ts=reply["ts"], text="x") == (
        "message_not_found"
    )


def test_ephemerals_are_seen_only_by_their_user(sandbox: Running) -> None:
    ts = sandbox.share()["ts"]
    answer = sandbox.slack.chat_postEphemeral(
        channel=CHANNEL, user=ALICE, text="only PDFs", thread_ts=ts
    )
    assert TS.match(answer["message_ts"])
    seen = sandbox.control("GET", "ephemerals", params={"user": ALICE, "channel": CHANNEL})
    assert [(e["text"], e["thread_ts"], e["source"]) for e in seen] == [
        ("only PDFs", ts, "chat.postEphemeral")
    ]
    assert sandbox.control("GET", "ephemerals", params={"user": "U0BOB"}) == []
    assert sandbox.thread(ts)["replies"] == []


def flags(user: dict[str, object]) -> tuple[object, ...]:
    return (user["is_admin"], user["is_owner"], user["is_primary_owner"], user["is_bot"])


def test_any_user_is_a_plain_member_until_made_an_admin_or_owner(sandbox: Running) -> None:
    user = sandbox.slack.users_info(user="U0CAROL")["user"]
    assert user["id"] == "U0CAROL" and flags(user) == (False, False, False, False)
    sandbox.control("POST", "users", json={"id": "U0CAROL", "name": "carol", "is_admin": True})
    user = sandbox.slack.users_info(user="U0CAROL")["user"]
    assert user["name"] == "carol" and flags(user) == (True, False, False, False)
    sandbox.control("POST", "users", json={"id": "U0DAVE", "is_admin": True, "is_owner": True})
    assert flags(sandbox.slack.users_info(user="U0DAVE")["user"]) == (True, True, False, False)
    assert flags(sandbox.slack.users_info(user="U0ERIN")["user"]) == (False, False, False, False)
    assert sandbox.slack.users_info(user="UBOTSANDBOX")["user"]["is_bot"] is True


def test_calls_are_logged_and_reset_forgets_everything(sandbox: Running) -> None:
    ts = sandbox.share()["ts"]
    sandbox.slack.chat_postMessage(channel=CHANNEL, thread_ts=ts, text="hi")
    sandbox.slack.chat_postEphemeral(channel=CHANNEL, user=ALICE, text="psst")
    sandbox.control("POST", "users", json={"id": "U0CAROL", "is_admin": True})
    error_of(sandbox.slack.chat_update, channel=CHANNEL, ts="1.000001", text="x")
    log = sandbox.control("GET", "calls")
    assert log["counts"] == {"chat.postMessage": 1, "chat.postEphemeral": 1, "chat.update": 1}
    assert [(c["method"], c["ok"], c["error"], c["channel"]) for c in log["calls"]] == [
        ("chat.postMessage", True, None, CHANNEL),
        ("chat.postEphemeral", True, None, CHANNEL),
        ("chat.update", False, "message_not_found", CHANNEL),
    ]
    sandbox.control("POST", "faults", json={"method": "auth.test", "mode": "500"})
    sandbox.control("POST", "reset")
    assert sandbox.control("GET", "calls")["calls"] == []
    assert sandbox.slack.auth_test()["ok"] is True  # faults are gone
    assert sandbox.control("GET", "ephemerals") == []
    assert sandbox.slack.users_info(user="U0CAROL")["user"]["is_admin"] is False
    gone = sandbox.http.get(f"{sandbox.url}/control/thread", params={"channel": CHANNEL, "ts": ts})
    assert gone.status_code == 404
    assert error_of(sandbox.slack.conversations_history, channel=CHANNEL) == "channel_not_found"


def test_concurrent_posts_keep_the_thread_in_ts_order(sandbox: Running) -> None:
    parent = sandbox.share()["ts"]

    def post(n: int) -> str:
        reply = sandbox.slack.chat_postMessage(channel=CHANNEL, thread_ts=parent, text=str(n))
        return str(reply["ts"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        stamps = list(pool.map(post, range(24)))
    assert len(set(stamps)) == 24
    thread = sandbox.slack.conversations_replies(channel=CHANNEL, ts=parent)
    shown = [m["ts"] for m in thread["messages"]]
    assert shown == sorted(shown) and sorted(shown[1:]) == sorted(stamps)


def test_a_file_shared_in_a_thread_is_a_reply_there(sandbox: Running) -> None:
    parent = sandbox.control(
        "POST", "messages", json={"channel": CHANNEL, "user": "U0BOB", "text": "send it here"}
    )["ts"]
    shared = sandbox.share(thread_ts=parent)
    assert shared["thread_ts"] == parent
    [reply] = sandbox.thread(parent)["replies"]
    assert (reply["ts"], reply["subtype"]) == (shared["ts"], "file_share")
    assert reply["files"][0]["id"] == shared["file_id"]
    info = sandbox.slack.files_info(file=shared["file_id"])["file"]
    assert info["shares"]["public"][CHANNEL] == [
        {"ts": shared["ts"], "thread_ts": parent, "channel_name": CHANNEL.lower()}
    ]


def test_replies_are_read_since_oldest_and_page_by_page_as_slack_reads_them(
    sandbox: Running,
) -> None:
    slack = sandbox.slack
    parent = sandbox.say("a busy thread")["ts"]
    stamps = [
        slack.chat_postMessage(channel=CHANNEL, thread_ts=parent, text=f"reply {n}")["ts"]
        for n in range(6)
    ]

    def shown(**args: object) -> list[str]:
        reply = slack.conversations_replies(channel=CHANNEL, ts=parent, **args)
        return [m["ts"] for m in reply["messages"]]

    # The parent heads the answer whatever the bounds; the bounds themselves are exclusive
    # unless `inclusive`.
    assert shown(oldest=stamps[2]) == [parent, *stamps[3:]]
    assert shown(oldest=stamps[2], latest=stamps[4]) == [parent, stamps[3]]
    assert shown(oldest=stamps[2], latest=stamps[4], inclusive=True) == [parent, *stamps[2:5]]
    assert error_of(slack.conversations_replies, channel=CHANNEL, ts=parent, oldest="x") == (
        "invalid_arguments"
    )

    # A cursor names where the next page starts: a reply deleted between two pages makes the
    # next one skip nothing, and the bounds hold on every page.
    first = slack.conversations_replies(channel=CHANNEL, ts=parent, oldest=stamps[0], limit=3)
    assert [m["ts"] for m in first["messages"]] == [parent, stamps[1], stamps[2]]
    assert first["has_more"]
    slack.chat_delete(channel=CHANNEL, ts=stamps[2])
    cursor = first["response_metadata"]["next_cursor"]
    rest = slack.conversations_replies(
        channel=CHANNEL, ts=parent, oldest=stamps[0], limit=3, cursor=cursor
    )
    assert [m["ts"] for m in rest["messages"]] == stamps[3:] and not rest["has_more"]
    assert rest["response_metadata"]["next_cursor"] == ""
    assert error_of(slack.conversations_replies, channel=CHANNEL, ts=parent, cursor="%%") == (
        "invalid_cursor"
    )

    # History pages the other way, newest first.
    said = [sandbox.say(f"later {n}")["ts"] for n in range(3)]
    newest = slack.conversations_history(channel=CHANNEL, oldest=parent, limit=2)
    assert [m["ts"] for m in newest["messages"]] == said[:0:-1] and newest["has_more"]
    slack_cursor = newest["response_metadata"]["next_cursor"]
    older = slack.conversations_history(
        channel=CHANNEL, oldest=parent, limit=2, cursor=slack_cursor
    )
    assert [m["ts"] for m in older["messages"]] == said[:1] and not older["has_more"]
