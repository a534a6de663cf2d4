"""``lab up`` refuses clearly, before creating anything, when it cannot work (no root needed)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from clusterlink.lab.addressing import LabSpec
from clusterlink.lab.lab import LabError, up


def test_up_refuses_to_run_without_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)

    with pytest.raises(LabError, match="needs root"):
        up(LabSpec(name="x"), tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_up_names_the_missing_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "bridge" else f"/bin/{tool}")

    with pytest.raises(LabError, match="missing tools: bridge"):
        up(LabSpec(name="x"), tmp_path)

    assert list(tmp_path.iterdir()) == []
