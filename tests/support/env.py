"""The environment a test gives a docjobs child process."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def child_env(**settings: str) -> dict[str, str]:
    """This process's environment without its docjobs and Slack settings (a developer's shell
    must not reach into a test), with this checkout's `src` first on PYTHONPATH (its code, not
    whatever copy is installed), then `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCJOBS_", "SLACK_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return {**env, **settings}
