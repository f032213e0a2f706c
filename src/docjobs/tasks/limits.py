"""Process limits: an address-space cap so a PDF bomb raises MemoryError, not the OOM killer."""

from __future__ import annotations

import logging

try:
    import resource
except ImportError:  # pragma: no cover - not on Windows
    resource = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)


def apply_memory_limit(mb: int) -> int | None:
    """Lower this process's RLIMIT_AS soft limit to `mb` MiB (0: leave it alone).

    Never raises a limit: a lower soft limit already in force stays, and the hard limit caps
    the request. Returns the soft limit in bytes now in force (None: unlimited or unknown).
    """
    if resource is None:
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if mb <= 0:
        return None if soft == resource.RLIM_INFINITY else soft
    wanted = mb * 1024 * 1024
    for ceiling in (soft, hard):
        if ceiling != resource.RLIM_INFINITY:
            wanted = min(wanted, ceiling)
    if wanted != soft:
        resource.setrlimit(resource.RLIMIT_AS, (wanted, hard))
        logger.debug("address space limited to %d MiB", wanted // (1024 * 1024))
    return wanted
