"""Where a ``kube://`` store URL points and how its client behaves, read from the URL itself.

``kube:///home/me/.kube/config?context=member-a&qps=20``: the URL is the one thing every
component, the lab and ``kosmosctl --store`` pass around, so the kubeconfig, the context and
the client's tuning all belong in it rather than in per-component flags.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from clusterlink.store.errors import InvalidError

IN_CLUSTER = "in-cluster"


@dataclass(frozen=True, slots=True)
class KubeOptions:
    """How one process talks to an API server.

    ``qps`` and ``burst``: the client-side token bucket every request passes (``qps=0``
    disables it). ``retries``: further attempts after a 429, a 5xx or a lost connection, with
    exponential backoff from ``backoff`` seconds up to ``max_backoff``. ``timeout``: seconds
    for one request (a watch's stream is not bounded by it). ``watch_seconds``: the longest
    one watch request lasts on the server before the watch transparently reconnects.
    ``page_size``: most objects one list request returns; longer lists take several.
    """

    qps: float = 50.0
    burst: int = 100
    retries: int = 5
    backoff: float = 0.2
    max_backoff: float = 5.0
    timeout: float = 30.0
    watch_seconds: int = 300
    page_size: int = 500


@dataclass(frozen=True, slots=True)
class KubeLocation:
    """A parsed ``kube://`` URL.

    ``kubeconfig`` None and ``in_cluster`` False: discover as kubectl does (the pod's service
    account, else ``$KUBECONFIG``, else ``~/.kube/config``). ``context`` None: the current one.
    """

    kubeconfig: Path | None
    in_cluster: bool
    context: str | None
    options: KubeOptions


_INTEGER_FIELDS = {"burst", "retries", "watch_seconds", "page_size"}
_POSITIVE_FIELDS = {"burst", "timeout", "watch_seconds", "page_size"}


def _option(url: str, name: str, text: str) -> float | int:
    try:
        value: float | int = int(text) if name in _INTEGER_FIELDS else float(text)
    except ValueError:
        raise InvalidError(f"store URL {url!r}: {name}={text!r} is not a number") from None
    if not math.isfinite(value) or value < 0 or (name in _POSITIVE_FIELDS and value <= 0):
        raise InvalidError(f"store URL {url!r}: {name}={text!r} is out of range")
    return value


def parse_kube_url(url: str) -> KubeLocation:
    """``kube://`` (discover), ``kube://in-cluster``, ``kube:///abs/kubeconfig`` or
    ``kube://relative/kubeconfig``; options ``context`` and those of :class:`KubeOptions`."""
    parts = urlsplit(url)
    if parts.scheme != "kube":
        raise InvalidError(f"store URL {url!r} is not a kube:// URL")
    known = {field.name for field in dataclasses.fields(KubeOptions)}
    context: str | None = None
    values: dict[str, float | int] = {}
    for name, text in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if name == "context":
            if not text:
                raise InvalidError(f"store URL {url!r}: context= names no context")
            context = text
        elif name in known:
            values[name] = _option(url, name, text)
        else:
            raise InvalidError(
                f"store URL {url!r}: unknown option {name!r}; known options: "
                f"{', '.join(sorted(known | {'context'}))}"
            )
    options = KubeOptions(**values)  # type: ignore[arg-type]
    path_text = parts.netloc + parts.path
    if path_text == IN_CLUSTER:
        if context is not None:
            raise InvalidError(f"store URL {url!r}: an in-cluster store has no contexts")
        return KubeLocation(None, True, None, options)
    return KubeLocation(Path(path_text) if path_text else None, False, context, options)
