"""Fixtures shared by all tests."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from tests.support import Collector, running_collector


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    """A real `segdebug collect` process on an ephemeral 127.0.0.1 port."""
    yield from running_collector(tmp_path / "collector")
