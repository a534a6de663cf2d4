"""Opening a store from a URL, and the errors for URLs that name no usable store."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusterlink.store import InvalidError, UnavailableError, open_store
from clusterlink.store.sqlite import SqliteOptions, parse_sqlite_url


def test_an_absolute_sqlite_url_opens_that_file(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path}/cluster-a.db")
    store.close()

    assert (tmp_path / "cluster-a.db").is_file()


def test_a_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    open_store("sqlite://cluster-b.db").close()

    assert (tmp_path / "cluster-b.db").is_file()


def test_options_are_read_from_the_query() -> None:
    location = parse_sqlite_url("sqlite:///x/a.db?poll_interval=0.5&history_events=7")

    assert location.path == Path("/x/a.db")
    assert location.options == SqliteOptions(poll_interval=0.5, history_events=7)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("etcd://localhost:2379", "unknown scheme 'etcd'"),
        ("/var/lib/a.db", "unknown scheme ''"),
        ("sqlite://", "names no database file"),
        ("sqlite://:memory:", "in-memory"),
        ("sqlite:///x/a.db?pollinterval=1", "unknown option 'pollinterval'"),
        ("sqlite:///x/a.db?poll_interval=soon", "not a number"),
        ("sqlite:///x/a.db?watch_batch=0", "out of range"),
    ],
)
def test_unusable_urls_fail_naming_the_url(url: str, complaint: str) -> None:
    with pytest.raises(InvalidError) as raised:
        open_store(url)

    assert repr(url) in str(raised.value)
    assert complaint in str(raised.value)


def test_a_store_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match="no such directory"):
        open_store(f"sqlite://{tmp_path}/missing/a.db")


def test_a_file_that_is_not_a_database_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "a.db").write_text("not sqlite at all, just some text " * 100)

    with pytest.raises(UnavailableError, match=r"a\.db"):
        open_store(f"sqlite://{tmp_path}/a.db")
