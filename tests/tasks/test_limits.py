"""The address-space cap, in a child process so the test runner keeps its own limits."""

from __future__ import annotations

import resource
import subprocess
import sys

PROBE = """
import resource, sys
from docjobs.tasks.limits import apply_memory_limit
{setup}
applied = apply_memory_limit({mb})
soft = resource.getrlimit(resource.RLIMIT_AS)[0]
try:
    block = bytearray({allocate} * 1024 * 1024)
    outcome = "allocated"
except MemoryError:
    outcome = "MemoryError"
print(applied, soft, outcome)
"""

MB = 1024 * 1024


def probe(mb: int, *, allocate: int = 1, setup: str = "") -> list[str]:
    code = PROBE.format(mb=mb, allocate=allocate, setup=setup)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_a_big_allocation_raises_memory_error_instead_of_killing_the_machine() -> None:
    applied, soft, outcome = probe(600, allocate=1500)
    assert int(applied) == int(soft) == 600 * MB
    assert outcome == "MemoryError"


def test_small_allocations_still_work_under_the_cap() -> None:
    assert probe(600, allocate=50)[2] == "allocated"


def test_zero_leaves_the_limit_alone() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)[0]  # the child inherits ours
    applied, soft, _ = probe(0)
    assert int(soft) == before
    assert applied == ("None" if before == resource.RLIM_INFINITY else str(before))


def test_never_raises_a_lower_limit_already_in_force() -> None:
    lower = f"resource.setrlimit(resource.RLIMIT_AS, ({400 * MB}, resource.RLIM_INFINITY))"
    applied, soft, _ = probe(2048, setup=lower)
    assert int(applied) == int(soft) == 400 * MB
