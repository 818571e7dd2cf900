"""Poll with a deadline instead of sleeping a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_UNSET = object()


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.1,
    message: str = "condition not met",
) -> T:
    """Call ``predicate`` until it returns a truthy value and return that value.

    Exceptions raised by the predicate count as "not yet" (the last one is reported). When ``timeout``
    seconds pass, raise AssertionError with ``message``, the last value and the last exception.
    """
    deadline = time.monotonic() + timeout
    last: object = _UNSET
    error: BaseException | None = None
    while True:
        try:
            value = predicate()
        except Exception as exc:  # noqa: BLE001 - any failure just means "not yet"
            error = exc
        else:
            error = None
            last = value
            if value:
                return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    details = []
    if last is not _UNSET:
        details.append(f"last value: {last!r}")
    if error is not None:
        details.append(f"last error: {type(error).__name__}: {error}")
    suffix = f" ({'; '.join(details)})" if details else ""
    raise AssertionError(f"{message}: not met within {timeout:.1f} s{suffix}")
