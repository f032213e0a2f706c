"""Every malformed `/jobs` gets a plain answer naming what was wrong and the usage."""

from __future__ import annotations

import pytest

from docjobs.bot.command_parser import CommandError, help_text, parse_jobs_command


@pytest.mark.parametrize(
    ("text", "name", "scope", "page"),
    [
        ("", "help", "mine", 1),
        ("help", "help", "mine", 1),
        ("STATUS", "status", "mine", 1),
        ("list", "list", "mine", 1),
        ("list failed", "list", "failed", 1),
        ("list channel 3", "list", "channel", 3),
        ("list page 2", "list", "mine", 2),
        ("stats", "stats", "mine", 1),
    ],
)
def test_valid_commands(text: str, name: str, scope: str, page: int) -> None:
    parsed = parse_jobs_command(text)
    assert (parsed.name, parsed.scope, parsed.page) == (name, scope, page)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("frobnicate", "I don't know `/jobs frobnicate`"),
        ("cancel", "needs a job id"),
        ("retry", "needs a job id"),
        ("cancel J7K2QX please", "takes one job id"),
        ("stats now", "takes nothing after it"),
        ("help me", "takes nothing after it"),
        ("status A B", "at most one job id"),
        ("list everything", "did not understand `everything`"),
        ("list ²", "did not understand `²`"),
        ("list 99999999999999999999", "did not understand `99999999999999999999`"),
    ],
)
def test_malformed_commands_say_what_was_wrong(text: str, says: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse_jobs_command(text)
    assert says in caught.value.message


def test_an_id_typed_in_angle_brackets_arrives_escaped_and_is_still_read() -> None:
    """Slack escapes &, < and > in a command's text, as in every message."""
    assert parse_jobs_command("status &lt;J7K2QX&gt;").args == ["J7K2QX"]
    assert parse_jobs_command("cancel &lt;j7k2qx&gt;").args == ["j7k2qx"]


def test_help_lists_every_subcommand_with_an_example() -> None:
    text = help_text()
    for sub in ("help", "status", "list", "cancel", "retry", "stats"):
        assert f"/jobs {sub}" in text
    assert "Examples:" in text
