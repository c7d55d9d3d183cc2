"""Rescue copies: a mounted directory or a blob container, and what the error says."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.oauth import refresh
from oauth_etl.oauth.errors import TokenSaveFailed
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.rescue import (
    BlobRescueSink,
    FileRescueSink,
    RescueSink,
    parse_rescue_location,
)
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl_tests.oauth.test_manager import CLIENT_SECRET, Env, FlakyStore


def failing_manager(env: Env, **kwargs: object) -> TokenManager:
    flaky = FlakyStore(env.store.path, failures=100)
    return TokenManager(
        flaky,
        env.endpoint,
        env.lock,
        clock=env.clock,
        sleep=env.sleeps.append,
        save_attempts=2,
        **kwargs,  # type: ignore[arg-type]
    )


def no_secret(text: str, *tokens: TokenSet) -> None:
    for tokens_ in tokens:
        for secret in (tokens_.access_token, tokens_.refresh_token, CLIENT_SECRET):
            assert secret is None or secret not in text


def test_file_sink_is_private_and_idempotent(tmp_path: Path) -> None:
    sink = FileRescueSink(tmp_path / "vol" / "rescue")
    where = sink.write("a.json", b"{}")
    assert where == str(tmp_path / "vol" / "rescue" / "a.json")
    assert stat.S_IMODE(Path(where).stat().st_mode) == 0o600
    assert stat.S_IMODE(sink.directory.stat().st_mode) == 0o700
    assert sink.write("a.json", b"other") == where  # same name = same set: kept once
    assert sink.read(where) == b"{}" and sink.owns(where)
    assert not sink.owns(str(tmp_path / "elsewhere.json"))
    assert isinstance(sink, RescueSink)


def test_blob_rescue_names_the_blob_and_restores_from_it(
    tmp_path: Path, container: ContainerClient
) -> None:
    env = Env(tmp_path)
    seeded = env.seed(expires_in=-1)
    sink = BlobRescueSink(container)
    manager = failing_manager(env, rescue=sink)
    with pytest.raises(TokenSaveFailed) as info:
        manager.access_token()
    location = info.value.rescue_path
    assert isinstance(location, str) and location.startswith(sink.base_url)
    message = str(info.value)
    assert f"oauth-etl token restore {location}" in message
    blobs = [b.name for b in container.list_blobs()]
    assert blobs == [f"token-rescue/{location.rsplit('/', 1)[1]}"]
    rescued = TokenSet.from_json(sink.read(location))
    assert rescued.refresh_token != seeded.refresh_token
    no_secret(message, seeded, rescued)
    assert not env.rescue_dir.exists()  # nothing fell back to a local directory
    # A working manager with the same sink restores straight from the blob URL.
    fixed = Env(tmp_path, rescue=sink)
    assert fixed.manager.restore(location) == rescued == fixed.store.load()


def test_unwritable_sink_falls_back_to_a_local_directory_and_says_so(
    tmp_path: Path, blob_service: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "home-rescue"
    monkeypatch.setattr(refresh, "default_rescue_dir", lambda: local)
    env = Env(tmp_path)
    env.seed(expires_in=-1)
    missing = blob_service.get_container_client("no-such-container-here")  # type: ignore[attr-defined]
    manager = failing_manager(env, rescue=BlobRescueSink(missing))
    with pytest.raises(TokenSaveFailed) as info:
        manager.access_token()
    rescue = info.value.rescue_path
    assert isinstance(rescue, Path) and rescue.parent == local
    assert str(rescue) in str(info.value)


def test_nowhere_to_rescue_says_the_token_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setattr(refresh, "default_rescue_dir", lambda: blocker / "rescue")
    env = Env(tmp_path)
    env.seed(expires_in=-1)
    manager = failing_manager(env, rescue=FileRescueSink(blocker / "mnt"))
    with pytest.raises(TokenSaveFailed, match="lost") as info:
        manager.access_token()
    assert info.value.rescue_path is None


def test_rescue_dir_keeps_working_for_older_callers(tmp_path: Path) -> None:
    env = Env(tmp_path)
    assert isinstance(env.manager.rescue, FileRescueSink)
    assert env.manager.rescue.directory == env.rescue_dir
    # `token status` says where rescue copies would go.
    assert f"rescue copies: directory {env.rescue_dir}" in env.manager.status().lines()


@pytest.mark.parametrize(
    ("text", "kind", "where"),
    [
        ("file:/mnt/rescue", "file", "/mnt/rescue"),
        ("blob:oauth-rescue", "blob", "oauth-rescue/token-rescue"),
        ("blob:oauth-rescue/team-a/", "blob", "oauth-rescue/team-a"),
    ],
)
def test_parse_rescue_location(text: str, kind: str, where: str) -> None:
    location = parse_rescue_location(text)
    assert location.kind == kind
    if kind == "file":
        assert str(location.path) == where
    else:
        assert f"{location.container}/{location.prefix}" == where


@pytest.mark.parametrize(
    "text", ["", "/mnt/rescue", "s3:bucket", "blob:", "blob:Bad_Name", "blob:ab"]
)
def test_parse_rescue_location_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="rescue location"):
        parse_rescue_location(text)
