from __future__ import annotations

from collections.abc import Iterator

import pytest

from docjobs.embedded_redis import EmbeddedRedis
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="package")
def stack(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One running system for the package's tests; each test uses its own channel."""
    with running_stack(redis_server.url, tmp_path_factory.mktemp("stack")) as running:
        yield running
