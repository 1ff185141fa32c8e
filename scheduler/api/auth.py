"""Bearer-token auth for write endpoints and a per-token rate limit."""

from __future__ import annotations

import hashlib
import math
import secrets
import threading
import time
from collections import deque

from fastapi import Request

from scheduler.api.errors import RateLimited, Unauthorized


def require_token(request: Request) -> str:
    """Dependency: the caller's identity (a token hash, or its address when auth is off)."""
    expected = request.app.state.service.settings.api_token
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if expected:
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip(), expected):
            raise Unauthorized("this endpoint needs 'Authorization: Bearer <token>' with the "
                               "token set in NEWSARCHIVE_API_TOKEN",
                               headers={"WWW-Authenticate": 'Bearer realm="newsarchive"'})
        return "token:" + hashlib.sha256(token.encode()).hexdigest()[:16]
    return "client:" + (request.client.host if request.client else "unknown")


class RateLimiter:
    """Sliding window: at most ``limit`` calls per ``window`` seconds per identity."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, identity: str) -> None:
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(identity, deque())
            while calls and now - calls[0] >= self.window:
                calls.popleft()
            if len(calls) >= self.limit:
                retry = max(1, math.ceil(self.window - (now - calls[0])))
                raise RateLimited(
                    f"rate limit: at most {self.limit} crawl requests per "
                    f"{int(self.window)} s per token; retry in {retry} s "
                    "(NEWSARCHIVE_CRAWL_RATE_LIMIT sets the limit)",
                    headers={"Retry-After": str(retry)}, retry_after=retry)
            calls.append(now)
