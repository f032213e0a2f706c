"""`/jobs` text → a subcommand and its arguments, or a plain-words reason it is not one."""

from __future__ import annotations

from dataclasses import dataclass, field

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


class CommandError(Exception):
    def __init__(self, message: str, *, subcommand: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.subcommand = subcommand


@dataclass(frozen=True)
class ParsedCommand:
    name: str
    args: list[str] = field(default_factory=list)
    scope: str = "mine"
    page: int = 1


def parse_jobs_command(text: str) -> ParsedCommand:
    words = text.split()
    if not words:
        return ParsedCommand("help")
    name, args = words[0].lower(), words[1:]
    if name not in USAGE:
        raise CommandError(f"I don't know `/jobs {words[0]}`.")
    if name in ("help", "stats") and args:
        raise CommandError(f"`/jobs {name}` takes nothing after it.", subcommand=name)
    if name == "status" and len(args) > 1:
        raise CommandError("`/jobs status` takes at most one job id.", subcommand=name)
    if name in ("cancel", "retry"):
        if not args:
            raise CommandError(
                f"`/jobs {name}` needs a job id, like `/jobs {name} J7K2QX`.", subcommand=name
            )
        if len(args) > 1:
            raise CommandError(
                f"`/jobs {name}` takes one job id; I got {len(args)} words.", subcommand=name
            )
    if name == "list":
        return _parse_list(args)
    return ParsedCommand(name, args)


def _parse_list(args: list[str]) -> ParsedCommand:
    scope, page = "mine", 1
    rest = list(args)
    if rest and rest[0].lower() in LIST_SCOPES:
        scope = rest.pop(0).lower()
    if rest and rest[0].lower() == "page":
        rest.pop(0)
    if rest and rest[0].isdigit() and int(rest[0]) >= 1:
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


def help_text() -> str:
    lines = ["*/jobs* — see and act on document jobs (answers are visible only to you)"]
    lines += [f"• {usage_line(name)}" for name in USAGE]
    lines.append("Examples: " + ", ".join(f"`{e}`" for e in EXAMPLES))
    return "\n".join(lines)
