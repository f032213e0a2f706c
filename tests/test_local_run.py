"""`docjobs run` (what `make run` starts) as a person runs it on a fresh machine: no Redis
configured, no Slack tokens. It must bring up its own Redis and the sandbox and show the thread."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SLACK_NAMES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "REDIS_URL")


def test_run_shares_the_sample_and_prints_its_thread_to_the_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in SLACK_NAMES}
    env["DOCJOBS_DATA_DIR"] = str(tmp_path / "data")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])

    result = subprocess.run(
        [sys.executable, "-m", "docjobs.cli", "run"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    done = "[reply] :white_check_mark: Done"
    reply = [i for i, line in enumerate(lines) if line.startswith(done)]
    assert len(reply) == 1, result.stdout
    assert lines[reply[0]].endswith(").") and " pages, " in lines[reply[0]], result.stdout
    # The thread is printed to its end: the progress message shows "done" too.
    final_edit = [
        line for line in lines[reply[0] :] if line.startswith("[edited] :white_check_mark:")
    ]
    assert final_edit and "— done — job" in final_edit[-1], result.stdout
    assert "+:white_check_mark: on the shared file" in lines, result.stdout
