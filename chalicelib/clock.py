"""Time in the API's format: ISO-8601 UTC with milliseconds and a `Z`."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_epoch() -> int:
    return int(time.time())
