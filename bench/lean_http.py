"""A small keep-alive JSON client for the load generators, on the standard library's http.client.

The simulated keyers run on the same two cores as the server they measure, so what the load
generator spends is taken from the server: httpx cost about 1 ms of CPU per next + submit (its
URL model, header objects and event hooks), as much as the completion worker. This client
does what the benchmarks need (one persistent connection, JSON in and out, a bearer token)
with a few calls per request. It is a benchmark tool, not product code.
"""

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

# What a dropped connection or a malformed answer raises: the keyer backs off and goes on.
TransportError = (OSError, http.client.HTTPException)
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class LeanResponse:
    __slots__ = ("status_code", "content")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    def json(self) -> Any:  # noqa: ANN401
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise http.client.HTTPException(f"HTTP {self.status_code}")


class LeanClient:
    """One keep-alive connection to `base` (http://host:port); reconnects after a failure."""

    def __init__(self, base: str, timeout: float = 60) -> None:
        parts = urlsplit(base)
        self._host, self._port = parts.hostname, parts.port or 80
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self.headers: dict[str, str] = {}

    def _request(self, method: str, path: str, body: bytes | None) -> LeanResponse:
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        reused = self._conn is not None
        try:
            return self._send(method, path, body, headers)
        except _STALE:
            self.close()
            if not reused:
                raise
        # The server closed the kept-alive connection as the request went out (its idle
        # timeout): send it again once on a new connection, as httpx and browsers do. A key
        # that did arrive would be refused the second time (its token is spent), not doubled.
        return self._send(method, path, body, headers)

    def _send(self, method: str, path: str, body: bytes | None, headers: dict) -> LeanResponse:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            self._conn.request(method, path, body=body, headers=headers)
            answer = self._conn.getresponse()
            return LeanResponse(answer.status, answer.read())
        except TransportError:
            self.close()
            raise

    def get(self, path: str) -> LeanResponse:
        return self._request("GET", path, None)

    def post(self, path: str, json: Any = None) -> LeanResponse:  # noqa: A002, ANN401
        return self._request("POST", path, None if json is None else _dumps(json))

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _dumps(value: Any) -> bytes:  # noqa: ANN401
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
