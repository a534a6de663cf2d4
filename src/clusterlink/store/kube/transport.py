"""Sending requests to the API server politely: a client-side rate limit, and retries.

A component that loops on errors must not flood the API server, and a control plane that
restarts must not crash every component: requests pass a token bucket, and failures the
server marks as transient (429, 5xx with ``Retry-After``) or that happened before the request
left (connection refused) are retried with exponential backoff. Reads are retried on any
5xx or lost connection too; a write whose fate is unknown is not, because repeating it could
apply it twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Final

import httpx2
from lightkube.config.client_adapter import ConnectionParams
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.generic_client import BasicRequest, GenericSyncClient

from clusterlink.store.errors import StoreError, UnavailableError
from clusterlink.store.kube.errors import decode_status, error_from_status
from clusterlink.store.kube.options import KubeOptions
from clusterlink.store.objects import ObjectKey

_NOT_SENT: Final = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
_IDEMPOTENT: Final = frozenset({"GET", "HEAD"})


class TokenBucket:
    """At most ``qps`` requests a second on average, ``burst`` at once; shared by threads.

    Each caller reserves a token, possibly one not yet refilled, and sleeps until it is due,
    so waiting callers are served in order without holding the lock while they sleep.
    """

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._qps = qps
        self._burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated = clock()

    def acquire(self) -> None:
        if self._qps <= 0:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._qps)
            self._updated = now
            self._tokens -= 1.0
            wait = -self._tokens / self._qps if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)


def _retry_after(response: httpx2.Response) -> float | None:
    text = response.headers.get("Retry-After")
    if text is None:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        return None


class ApiSession:
    """One connection pool to one API server, through which every request of a store goes."""

    def __init__(
        self,
        config: SingleConfig,
        options: KubeOptions,
        *,
        sleep: Callable[[float], None] = time.sleep,
        jitter: random.Random | None = None,
    ) -> None:
        self._options = options
        self._sleep = sleep
        self._jitter = jitter or random.Random()
        self._bucket = TokenBucket(options.qps, options.burst, sleep=sleep)
        self.client = GenericSyncClient(
            ConnectionParams(timeout=httpx2.Timeout(options.timeout)), config
        )
        self.server = config.cluster.server

    def send(
        self, request: BasicRequest, key: ObjectKey, *, stream: bool = False
    ) -> httpx2.Response:
        """The successful response to ``request``, or the typed error of its last attempt.

        With ``stream`` the body is left unread for the caller, who must close the response.
        """
        built = self.client.build_adapter_request(request)
        reading = request.method in _IDEMPOTENT
        attempt = 0
        while True:
            self._bucket.acquire()
            try:
                response: httpx2.Response = self.client.send(built, stream=stream)
            except httpx2.TransportError as exc:
                if attempt < self._options.retries and (reading or isinstance(exc, _NOT_SENT)):
                    self._pause(attempt, None)
                    attempt += 1
                    continue
                raise self._unreachable(request, key, exc, attempt) from None
            if response.status_code < 400:
                return response
            body = response.read()
            response.close()
            retry_after = _retry_after(response)
            code = response.status_code
            transient = code == 429 or (code >= 500 and (retry_after is not None or reading))
            if transient and attempt < self._options.retries:
                self._pause(attempt, retry_after)
                attempt += 1
                continue
            raise error_from_status(code, decode_status(body), key, reading=reading)

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]

    def _pause(self, attempt: int, retry_after: float | None) -> None:
        if retry_after is not None:
            delay = retry_after
        else:
            delay = self._options.backoff * 2**attempt * (0.5 + self._jitter.random() / 2)
        self._sleep(min(delay, self._options.max_backoff))

    def _unreachable(
        self, request: BasicRequest, key: ObjectKey, exc: Exception, attempt: int
    ) -> StoreError:
        return UnavailableError(
            f"cannot reach the API server at {self.server} for {request.method} "
            f"/{request.url} after {attempt + 1} attempt(s): {exc or type(exc).__name__}",
            kind=key.kind,
            name=key.name,
            namespace=key.namespace,
        )
