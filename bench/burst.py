"""A burst of shares into one channel, with the sandbox enforcing Slack's limits (one
chat.postMessage per second per channel, Tier 3 for chat.update and reactions): how many 429s
the bot provokes, whether every thread still ends right, and how long the last one takes.

Small one-page corpus PDFs, so the time is Slack's pacing, not extraction. The floor is two
posts per job (progress message and outcome reply) at one per second in that channel.
"""

from __future__ import annotations

from itertools import cycle, islice

from bench import corpus
from bench.call_log import busiest_minute
from bench.options import Options
from bench.report import Result
from bench.system import new_channel, run_directory, running_system

TITLE = "HTTP 429s during a burst of shares into one channel"
FILES = ("minimal-document.pdf", "crazyones-pdfa.pdf", "002-trivial-libre-office-writer.pdf")


def run(options: Options) -> Result:
    count = options.size(20, 100)
    engine = options.resolved_engine()
    result = Result("burst", TITLE, options.command("burst"))
    result.size = {"shares": count, "channels": 1, "engine": engine}
    rows = {row.file: row.path for row in corpus.manifest()}
    files = list(islice(cycle(rows[name] for name in FILES), count))

    with (
        run_directory("burst", keep=options.keep) as data_dir,
        running_system(data_dir, worker_concurrency=2, engine=engine) as system,
    ):
        channel = new_channel()
        shares = [system.share_file(path, channel=channel) for path in files]
        replied = system.wait_for_outcomes(shares, timeout_s=120 + 4 * count)
        threads = system.wait_settled(replied, timeout_s=120)
        log = system.calls()

    calls = log["calls"]
    refused = [c for c in calls if c["status"] == 429]
    by_method: dict[str, int] = {}
    for call in refused:
        by_method[call["method"]] = by_method.get(call["method"], 0) + 1
    wrong = {t.share.filename + "@" + t.share.ts: t.problems() for t in threads.values()}
    wrong = {k: v for k, v in wrong.items() if v}
    start = min(s.shared_at for s in shares)
    last = max(t.outcome_at or 0.0 for t in threads.values()) - start
    settled = max(t.last_change_at for t in threads.values()) - start
    posts = sum(1 for c in calls if c["method"] == "chat.postMessage" and c["status"] == 200)

    result.figure(f"HTTP 429s during {count} shares into one channel", len(refused), "")
    result.figure("threads that did not end right", len(wrong), f"of {count}")
    result.figure("share → last outcome reply", last, "s")
    result.figure("  floor: 2 posts per job at 1 per second", 2 * count - 1, "s")
    result.figure("share → last thread settled (reactions too)", settled, "s")
    result.figure("chat.postMessage calls accepted", posts, "calls")
    result.figure("chat.update in the busiest minute", busiest_minute(calls, "chat.update"), "")
    result.figure("reactions.add in the busiest minute", busiest_minute(calls, "reactions.add"), "")
    if by_method:
        result.note("429s by method: " + ", ".join(f"{m} {n}" for m, n in by_method.items()))
    for name, problems in list(wrong.items())[:5]:
        result.note(f"{name}: {'; '.join(problems)}")
    result.verdict(
        "0 HTTP 429s, and every thread still ends right",
        not refused and not wrong,
        f"{len(refused)} 429s; {len(wrong)} of {count} threads wrong",
    )
    return result
