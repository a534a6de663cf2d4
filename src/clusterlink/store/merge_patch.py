"""JSON merge patch (RFC 7386), the ``application/merge-patch+json`` of ``kubectl patch``.

Kept apart from the backends so both apply exactly the same rules: objects merge key by
key, ``null`` removes a key, and anything else (lists included) replaces the target.
"""

from __future__ import annotations

import copy
from typing import Any


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """The result of applying ``patch`` to ``target``; neither argument is modified."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result
