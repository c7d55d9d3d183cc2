from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import pytest

from oauth_etl.oauth.errors import LockTimeout, TokenStoreError
from oauth_etl.oauth.locks import CrossProcessLock, FileLock
from oauth_etl.oauth.stores import FileTokenStore, TokenStore
from oauth_etl_tests.oauth.test_tokens import make


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_missing_file_loads_none(tmp_path: Path) -> None:
    assert FileTokenStore(tmp_path / "none.json").load() is None


def test_save_creates_private_parent_and_file(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "deep" / "dir" / "token.json")
    assert isinstance(store, TokenStore)
    tokens = make()
    store.save(tokens)
    assert mode_of(store.path) == 0o600
    assert mode_of(store.path.parent) == 0o700
    assert store.load() == tokens
    assert "refresh-token" not in store.describe()


def test_save_replaces_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "token.json")
    store.save(make())
    inode = store.path.stat().st_ino
    store.save(make(refresh_token="rotated-refresh-token"))
    assert store.path.stat().st_ino != inode  # a new file renamed over, never rewritten in place
    assert store.load().refresh_token == "rotated-refresh-token"  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["token.json"]


def test_concurrent_readers_never_see_a_partial_file(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "token.json")
    store.save(make())
    errors: list[Exception] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                assert store.load() is not None
            except Exception as exc:  # pragma: no cover - the failure we look for
                errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    for i in range(150):
        store.save(make(refresh_token=f"rt-{i}-" + "z" * (i % 50)))
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []


def test_group_readable_file_is_refused_with_chmod_advice(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "token.json")
    store.save(make())
    os.chmod(store.path, 0o644)
    with pytest.raises(TokenStoreError) as info:
        store.load()
    assert f"chmod 600 {store.path}" in str(info.value)


def test_corrupt_file_gives_clear_error_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    path.write_bytes(b'{"access_token": "abc", "refr')
    os.chmod(path, 0o600)
    with pytest.raises(TokenStoreError) as info:
        FileTokenStore(path).load()
    assert str(path) in str(info.value)
    assert "abc" not in str(info.value)
    assert path.read_bytes().startswith(b'{"access_token"')


def test_unwritable_directory_raises_store_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root ignores directory permissions: use a path under a regular file instead
        blocker = tmp_path / "file"
        blocker.write_text("x")
        store = FileTokenStore(blocker / "token.json")
    else:
        locked = tmp_path / "ro"
        locked.mkdir(mode=0o500)
        store = FileTokenStore(locked / "token.json")
    with pytest.raises(TokenStoreError, match="cannot write token file"):
        store.save(make())


def test_file_lock_excludes_and_times_out(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "token.json.lock", timeout=0.2)
    assert isinstance(lock, CrossProcessLock)
    other = FileLock(tmp_path / "token.json.lock", timeout=0.2)
    with lock.hold():
        started = time.monotonic()
        with pytest.raises(LockTimeout) as info, other.hold():
            pass
        assert time.monotonic() - started < 2.0
    assert str(tmp_path / "token.json.lock") in str(info.value)
    with other.hold():  # released: free again
        pass


def test_file_lock_serialises_threads(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "x.lock", timeout=5)
    inside = 0
    peak = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, peak
        with lock.hold():
            with guard:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.01)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == 1


def test_interrupted_save_is_adopted_and_cut_short_writes_removed(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    store = FileTokenStore(path)
    store.save(make(refresh_token="rt-old", obtained_at=100.0))
    # A killed process left: a complete newer set (written and fsynced, never renamed),
    # a complete older one, and a write cut short.
    newer = tmp_path / ".token.json.aaaa.tmp"
    newer.write_bytes(make(refresh_token="rt-rotated", obtained_at=300.0).to_json())
    older = tmp_path / ".token.json.bbbb.tmp"
    older.write_bytes(make(refresh_token="rt-ancient", obtained_at=50.0).to_json())
    cut = tmp_path / ".token.json.cccc.tmp"
    cut.write_bytes(make(refresh_token="rt-cut", obtained_at=400.0).to_json()[:40])

    adopted = store.recover_interrupted_save()
    assert adopted is not None and adopted.refresh_token == "rt-rotated"
    loaded = store.load()
    assert loaded is not None and loaded.refresh_token == "rt-rotated"
    assert not list(tmp_path.glob(".token.json.*.tmp"))
    assert store.recover_interrupted_save() is None  # nothing left to adopt


def test_no_interrupted_save_leaves_the_store_alone(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    store = FileTokenStore(path)
    store.save(make(obtained_at=100.0))
    before = path.read_bytes()
    assert store.recover_interrupted_save() is None
    assert path.read_bytes() == before
