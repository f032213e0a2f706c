"""`/jobs` text → a subcommand and its arguments, or a plain-words reason it is not one."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from docjobs.jobs.ids import normalize_job_id

USAGE = {
    "help": ("/jobs help", "this help"),
    "status": ("/jobs status [ID]", "one job in detail, or your active and recent jobs"),
    "list": ("/jobs list [mine|channel|failed] [PAGE]", "recent jobs, newest first"),
    "cancel": ("/jobs cancel ID", "stop a queued or running job"),
    "retry": ("/jobs retry ID", "run a failed or cancelled job again, in the same thread"),
    "stats": ("/jobs stats", "queue depth, workers, jobs in the last hour"),
}
EXAMPLES = ["/jobs status J7K2QX", "/jobs list failed", "/jobs cancel J7K2QX"]
LIST_SCOPES = ("mine", "channel", "failed")
TAKES_ID = ("status", "cancel", "retry")

# What surrounds an id copied from a thread message ("job `J7K2QX`", "(job `J7K2QX`).").
_PASTED_ID = re.compile(r"(?i)^(?:job\b[\s:#-]*)?([a-z0-9]+)$")
_WRAPPING = " \t`*_#()[]<>.,;:!?'\""
# A page number: ASCII digits only (str.isdigit also takes "²", which int() refuses), and few
# enough that the Redis offset it becomes stays an integer Redis accepts.
_PAGE = re.compile(r"[0-9]{1,6}")


class CommandError(Exception):
    """Bad input; `subcommand` names the usage line to show (None: show them all)."""

    def __init__(
        self, message: str, *, subcommand: str | None = None, missing_id: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.subcommand = subcommand
        self.missing_id = missing_id


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    args: list[str] = field(default_factory=list)
    scope: str = "mine"
    page: int = 1


def parse_jobs_command(text: str) -> ParsedCommand:
    # Slack sends a command's text with &, < and > escaped, as in every message.
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    words = text.split()
    if not words:
        return ParsedCommand("help")
    name, args = words[0].lower(), words[1:]
    if name not in USAGE:
        raise CommandError(_unknown(words))
    if name in ("help", "stats") and args:
        raise CommandError(f"`/jobs {name}` takes nothing after it.", subcommand=name)
    if name == "list":
        return _parse_list(args)
    if name in TAKES_ID:
        return ParsedCommand(name, _id_args(name, args))
    return ParsedCommand(name, args)


def pasted_id(text: str) -> str:
    """The id inside text copied from a thread message, as typed otherwise."""
    cleaned = text.strip(_WRAPPING)
    match = _PASTED_ID.match(re.sub(r"[`*_]", "", cleaned))
    return match.group(1) if match else cleaned


def _id_args(name: str, args: list[str]) -> list[str]:
    if not args:
        if name == "status":
            return []
        raise CommandError(
            f"`/jobs {name}` needs a job id, like `/jobs {name} J7K2QX`.",
            subcommand=name,
            missing_id=True,
        )
    joined = pasted_id(" ".join(args))
    if len(joined.split()) > 1:
        if name == "status":
            raise CommandError("`/jobs status` takes at most one job id.", subcommand=name)
        raise CommandError(
            f"`/jobs {name}` takes one job id; I got {len(args)} words.", subcommand=name
        )
    return [joined]


def _unknown(words: list[str]) -> str:
    said = f"I don't know `/jobs {words[0]}`."
    close = difflib.get_close_matches(words[0].lower(), list(USAGE), n=2, cutoff=0.6)
    if close:
        return f"{said} Did you mean " + " or ".join(f"`/jobs {c}`" for c in close) + "?"
    job_id = normalize_job_id(pasted_id(" ".join(words)))
    if job_id:
        return f"{said} To see that job, use `/jobs status {job_id}`."
    return said


def _parse_list(args: list[str]) -> ParsedCommand:
    scope, page = "mine", 1
    rest = list(args)
    if rest and rest[0].lower() in LIST_SCOPES:
        scope = rest.pop(0).lower()
    if rest and rest[0].lower() == "page":
        rest.pop(0)
    if rest and _PAGE.fullmatch(rest[0]) and int(rest[0]) >= 1:
        page = int(rest.pop(0))
    if rest:
        raise CommandError(
            f"`/jobs list` did not understand `{' '.join(rest)}`: "
            f"use one of {', '.join(LIST_SCOPES)} and an optional page number.",
            subcommand="list",
        )
    return ParsedCommand("list", args, scope=scope, page=page)


def usage_line(name: str) -> str:
    syntax, meaning = USAGE[name]
    return f"`{syntax}` — {meaning}"


def usage_lines() -> str:
    return "\n".join(f"• {usage_line(name)}" for name in USAGE)


def help_text() -> str:
    lines = ["*/jobs* — see and act on document jobs (answers are visible only to you)"]
    lines.append(usage_lines())
    lines.append("Examples: " + ", ".join(f"`{e}`" for e in EXAMPLES))
    return "\n".join(lines)
