"""A small HTTP client for serve's API (urllib): every answer, error statuses included, as JSON."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def http(
    url: str, method: str = "GET", data: Any = None, token: str | None = None, **headers: str
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON body, headers); ``data`` bytes are sent as they are, anything else as JSON; header
    names take ``_`` for ``-`` (Idempotency_Key=...)."""
    body = data if isinstance(data, bytes) or data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), dict(exc.headers)
