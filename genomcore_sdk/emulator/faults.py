"""Fault injection for the emulator: the network and server misbehaving on purpose.

Each rate is a share of requests from 0 to 1, drawn independently per request:

* ``fail_rate``: answer 500 or 503 (half each) without doing anything;
* ``throttle_rate``: answer 429 with ``Retry-After: <retry_after>`` without doing anything;
* ``drop_rate``: do the work (commit it), then close the connection without answering;
* ``drop_before_commit_rate``: close the connection without doing anything;
* ``delay_ms``: wait this long before handling each request.

``operations`` limits faults to some operations (by ``operationId``:
``createTimeSeries``, ``queryTimeSeries``, ``deleteTimeSeries``,
``refreshToken``); None means every operation.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterable

import attrs

__all__ = ["FaultConfig", "FaultInjector", "Faults"]

OPERATIONS = frozenset({"createTimeSeries", "queryTimeSeries", "deleteTimeSeries", "refreshToken"})


def _rate(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    """Check that a fault rate is a share from 0 to 1."""
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be a share from 0 to 1, got {value!r}")


def _operations(ops: Iterable[str] | None) -> frozenset[str] | None:
    return None if ops is None else frozenset(ops)


@attrs.frozen
class FaultConfig:
    """Which faults to inject, and how often (see the module docstring)."""

    fail_rate: float = attrs.field(default=0.0, validator=_rate)
    throttle_rate: float = attrs.field(default=0.0, validator=_rate)
    drop_rate: float = attrs.field(default=0.0, validator=_rate)
    drop_before_commit_rate: float = attrs.field(default=0.0, validator=_rate)
    delay_ms: int = 0
    retry_after: int = 1
    operations: frozenset[str] | None = attrs.field(default=None, converter=_operations)
    seed: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.operations is not None and self.operations - OPERATIONS:
            raise ValueError(
                f"unknown operation(s) {sorted(self.operations - OPERATIONS)}; "
                f"known: {sorted(OPERATIONS)}"
            )
        if self.fail_rate + self.throttle_rate + self.drop_rate + self.drop_before_commit_rate > 1:
            raise ValueError("the fault rates add up to more than 1")


Faults = str  # "fail_500", "fail_503", "throttle", "drop_after", "drop_before", or "" (none)


class FaultInjector:
    """Draws the fault for each request and counts what it injected."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.config = config or FaultConfig()
        self._random = random.Random(self.config.seed)
        self.injected: Counter[str] = Counter()

    def configure(self, config: FaultConfig) -> None:
        """Replace the fault configuration (takes effect on the next request)."""
        with self._lock:
            self.config = config
            self._random = random.Random(config.seed)

    def draw(self, operation: str) -> Faults:
        """The fault for one request of ``operation`` ("" for none)."""
        config = self.config
        if config.operations is not None and operation not in config.operations:
            return ""
        with self._lock:
            roll = self._random.random()
            coin = self._random.random()
        fault = ""
        edge = config.fail_rate
        if roll < edge:
            fault = "fail_500" if coin < 0.5 else "fail_503"
        elif roll < (edge := edge + config.throttle_rate):
            fault = "throttle"
        elif roll < (edge := edge + config.drop_rate):
            fault = "drop_after"
        elif roll < edge + config.drop_before_commit_rate:
            fault = "drop_before"
        if fault:
            with self._lock:
                self.injected[fault] += 1
        return fault
