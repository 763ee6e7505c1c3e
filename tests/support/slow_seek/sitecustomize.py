"""Test-only fault injection: a slow seek to committed offsets in a worker process.

Put this directory on a worker's PYTHONPATH and set IOC_TEST_SLOW_SEEK_SECONDS: every seek of the
Faust consumer to its committed offsets then takes that much longer *after* the positions have
moved, which is the window where Faust (0.15.3) can fetch records it later discards (docs/faults.md,
bug 6). Production code never imports this.
"""

from __future__ import annotations

import asyncio
import os

_DELAY = float(os.environ.get("IOC_TEST_SLOW_SEEK_SECONDS") or 0)

if _DELAY > 0:
    from collections.abc import Mapping
    from typing import Any

    from faust.transport.drivers import aiokafka as _driver

    _original = _driver.Consumer.seek_to_committed

    async def _slow_seek_to_committed(self: Any) -> Mapping[Any, int]:
        committed = await _original(self)
        await asyncio.sleep(_DELAY)
        return committed

    _driver.Consumer.seek_to_committed = _slow_seek_to_committed  # type: ignore[method-assign]
