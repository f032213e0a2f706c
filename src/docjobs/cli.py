"""The `docjobs` command: one small function per subcommand, registered in `build_parser`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docjobs.logs import configure_logging
from docjobs.settings import get_settings

if TYPE_CHECKING:
    from docjobs.tasks.pipeline import Outcome

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="docjobs", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more (to stderr)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    process = sub.add_parser("process", help="run one local PDF through the pipeline")
    process.add_argument("file", type=Path, metavar="FILE", help="the PDF to process")
    process.add_argument("--json", action="store_true", help="print the outcome as JSON")
    process.add_argument(
        "--engine",
        choices=("pypdf", "pdfium", "auto"),
        default=None,
        help="text extraction engine (default: DOCJOBS_EXTRACT_ENGINE, else auto)",
    )
    process.set_defaults(handler=cmd_process)

    run = sub.add_parser("run", help="everything in one process tree (what `make run` starts)")
    run.add_argument(
        "--keep-running",
        action="store_true",
        help="stay up after the sample job, for trying things by hand",
    )
    run.add_argument("--file", type=Path, help="share this PDF instead of the generated sample")
    run.set_defaults(handler=cmd_run)

    sub.add_parser(
        "web", help="the HTTP service: results, status, health, Slack endpoint"
    ).set_defaults(handler=cmd_web)
    worker = sub.add_parser("worker", help="a Celery worker (prefork) running the pipeline")
    worker.add_argument("--concurrency", type=int, help="worker processes (default: setting)")
    worker.set_defaults(handler=cmd_worker)
    sub.add_parser("reporter", help="keeps each job's thread up to date").set_defaults(
        handler=cmd_reporter
    )
    sub.add_parser(
        "bot", help="the Slack bot over Socket Mode (needs SLACK_APP_TOKEN)"
    ).set_defaults(handler=cmd_bot)
    sandbox = sub.add_parser("sandbox", help="the local stand-in for Slack")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=None)
    sandbox.add_argument(
        "--bot-endpoint",
        default=None,
        help="where to deliver events (default: this machine's web service)",
    )
    sandbox.set_defaults(handler=cmd_sandbox)

    dead = sub.add_parser("dead-letters", help="jobs that gave up after their retries")
    dead.add_argument("--retry", nargs="*", metavar="ID", help="run these again (all if none)")
    dead.set_defaults(handler=cmd_dead_letters)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage errors exit 2, --help exits 0
        return exit_.code if isinstance(exit_.code, int) else 2
    handler: Command = args.handler
    if handler is cmd_process:
        _configure_process_logging(args.verbose)
    else:
        configure_logging("DEBUG" if args.verbose else "INFO")
    return handler(args)


def _configure_process_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        # pypdf logs every repair it makes to a damaged file; the outcome already says enough.
        logging.getLogger("pypdf").setLevel(logging.ERROR)


def cmd_process(args: argparse.Namespace) -> int:
    """docjobs process FILE [--json]: progress on stderr, the outcome on stdout."""
    from docjobs.tasks.limits import apply_memory_limit
    from docjobs.tasks.pipeline import process_local_file

    path: Path = args.file
    if not path.is_file():
        print(f"docjobs process: no such file: {path}", file=sys.stderr)
        return 2
    settings = get_settings()
    apply_memory_limit(settings.worker_memory_limit_mb)
    outcome = process_local_file(
        path,
        settings=settings,
        on_progress=_print_progress,
        engine=args.engine or settings.extract_engine,
    )
    if args.json:
        print(json.dumps({**outcome.to_dict(), "file": str(path)}, ensure_ascii=False))
    else:
        print(_describe(outcome, path))
    return 0 if outcome.status == "succeeded" else 1


def cmd_run(args: argparse.Namespace) -> int:
    """docjobs run: Redis (embedded if no REDIS_URL), sandbox (if no Slack tokens), web,
    worker and reporter; shares a sample PDF and prints its thread."""
    from docjobs.local_run import run_local

    return run_local(get_settings(), keep_running=args.keep_running, file=args.file)


def cmd_web(_: argparse.Namespace) -> int:
    from docjobs.services import run_web

    run_web(get_settings())
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """docjobs worker: 0 after a stop someone asked for (a signal, Celery's remote shutdown);
    non-zero when Celery gave up by itself ("Unrecoverable error", e.g. the broker went), so
    a supervisor that restarts on failure brings it back."""
    from docjobs.services import run_worker

    stop = WorkerStop()
    stop.watch()
    run_worker(get_settings(), concurrency=args.concurrency)
    return stop.exit_status()


class WorkerStop:
    """Why the Celery worker in this process stopped. `app.worker_main` drops the worker's
    exit code, and Celery gives Ctrl-C the same code (1) as an unrecoverable error, so the
    worker and any shutdown signal are caught through Celery's own signals."""

    def __init__(self) -> None:
        self.worker: Any = None
        self.requested = False

    def watch(self) -> None:
        from celery.signals import worker_init, worker_shutting_down

        worker_init.connect(self._on_worker_init, weak=False)
        worker_shutting_down.connect(self._on_shutting_down, weak=False)

    def exit_status(self) -> int:
        if self.requested:
            return 0
        if self.worker is None:
            return 1  # Celery stopped before it built a worker
        code = self.worker.exitcode
        # None: it stopped without saying why, which no requested stop does.
        return code if isinstance(code, int) else 1

    def _on_worker_init(self, sender: Any = None, **_: Any) -> None:
        self.worker = sender

    def _on_shutting_down(self, **_: Any) -> None:
        self.requested = True


def cmd_reporter(_: argparse.Namespace) -> int:
    from docjobs.services import run_reporter

    run_reporter(get_settings())
    return 0


def cmd_bot(_: argparse.Namespace) -> int:
    from docjobs.services import run_socket_mode_bot

    run_socket_mode_bot(get_settings())
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    """List the dead-letter jobs with their reasons; with --retry, run them again (each as
    its next attempt, reporting into its own thread, as `/jobs retry` does)."""
    from docjobs.dead_letters import list_dead_letters, retry_dead_letters

    settings = get_settings()
    if not settings.redis_url:
        print("docjobs dead-letters: REDIS_URL is not set", file=sys.stderr)
        return 2
    if args.retry is None:
        for line in list_dead_letters(settings):
            print(line)
        return 0
    retried, refused = retry_dead_letters(settings, args.retry)
    for line in retried + refused:
        print(line)
    return 1 if refused else 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from docjobs.services import run_sandbox

    settings = get_settings()
    endpoint = args.bot_endpoint or f"http://127.0.0.1:{settings.web_port}/slack/events"
    run_sandbox(host=args.host, port=args.port or settings.sandbox_port, bot_endpoint=endpoint)
    return 0


def _print_progress(step: str, percent: int, detail: str) -> None:
    print(f"{step:<11}{percent:>3}%  {detail}", file=sys.stderr, flush=True)


def _describe(outcome: Outcome, path: Path) -> str:
    if outcome.status != "succeeded":
        return "\n".join(
            [
                f"{path.name}: {outcome.status} ({outcome.reason_code})",
                f"  {outcome.reason}",
                f"  What to do: {outcome.hint}",
            ]
        )
    lines = [
        f"{path.name}: done in {outcome.seconds:.1f} s",
        f"  pages   {outcome.pages}",
        f"  words   {outcome.words}",
        f"  chunks  {outcome.chunks}",
    ]
    lines += [f"  warning: {warning}" for warning in outcome.warnings]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
