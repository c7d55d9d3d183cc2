"""Each failure gets the fix of its own cause: a storage key that Azurite rejects is told
to copy the key again (not to grant a role), a role only for an Azure AD identity that
lacks it, and a token store or lock under a file is told what is wrong with the path."""

from __future__ import annotations

import base64
from pathlib import Path

from oauth_etl import doctor
from oauth_etl.doctor.causes import Service, explain
from oauth_etl.doctor.checks import check_lock
from oauth_etl.doctor.run import stream_environment
from oauth_etl.oauth.locks import FileLock
from oauth_etl_dev.local_services import AZURITE_ACCOUNT, AZURITE_KEY, Azurite
from oauth_etl_tests import canary
from oauth_etl_tests.test_doctor_down import clean

WRONG_KEY = base64.b64encode(b"not the account's key, but base64 all the same").decode()


def env_for(tmp_path: Path, azurite: Azurite, key: str = AZURITE_KEY) -> dict[str, str]:
    return {
        "XERO_CLIENT_ID": "cid",
        "XERO_CLIENT_SECRET": canary.CLIENT_SECRET,
        "XERO_IDENTITY_URL": "http://127.0.0.1:9",
        "XERO_API_URL": "http://127.0.0.1:9",
        "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path / 'token.json'}",
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string.replace(AZURITE_KEY, key),
    }


def test_a_wrong_account_key_is_told_to_copy_the_key_again(
    tmp_path: Path, azurite: Azurite
) -> None:
    results = list(stream_environment(env_for(tmp_path, azurite, WRONG_KEY)))
    text = doctor.render_text(results)
    clean(text)
    assert WRONG_KEY not in text
    landing = next(r for r in results if r.name == "landing container")
    assert landing.status == "fail", landing
    assert "403" in landing.detail and "the credential was rejected" in landing.detail
    assert f"/{AZURITE_ACCOUNT}" in landing.detail  # the account's URL
    assert "copy the account's key or connection string again" in landing.fix
    assert "AZURE_STORAGE_CONNECTION_STRING" in landing.fix
    assert "Storage Blob Data Contributor" not in text  # no role for a key


class _Refused(Exception):
    status_code = 403

    def __init__(self, code: str) -> None:
        super().__init__("denied")
        self.error_code = code


def test_a_role_is_the_fix_only_for_an_identity_without_permission() -> None:
    def service(credential: str) -> Service:
        return Service(
            "the storage account",
            "https://acct.blob.core.windows.net",
            "AZURE_STORAGE_ACCOUNT_URL",
            "'Storage Blob Data Contributor' on the container",
            credential,  # type: ignore[arg-type]
        )

    identity = explain(_Refused("AuthorizationPermissionMismatch"), service("identity"))
    assert identity is not None and "Storage Blob Data Contributor" in identity.fix
    sas = explain(_Refused("AuthorizationPermissionMismatch"), service("sas"))
    assert sas is not None and "issue a SAS with" in sas.fix and "Contributor" not in sas.fix
    for credential in ("key", "sas", "identity"):
        rejected = explain(_Refused("AuthenticationFailed"), service(credential))
        assert rejected is not None and "Contributor" not in rejected.fix, credential
        assert "the credential was rejected" in rejected.detail
        assert "copy the account's key or connection string again" in rejected.fix


def test_a_token_store_under_a_file_says_so_once(tmp_path: Path, azurite: Azurite) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    env = {
        **env_for(tmp_path, azurite),
        "OAUTH_ETL_TOKEN_STORE": f"file:{blocker / 'x.json'}",
    }
    results = list(stream_environment(env))
    text = doctor.render_text(results)
    clean(text)
    by_name = {r.name: r for r in results}
    store = by_name["token store"]
    assert store.status == "fail" and f"{blocker} is a file, not a folder" in store.detail
    assert f"move the file {blocker} away" in store.fix
    assert by_name["lock"].status == "skip"  # the same path: reported once
    assert "the same cause as token store" in by_name["lock"].detail
    assert "Storage Blob" not in text and "grant" not in text


def test_a_lock_whose_folder_cannot_be_made_names_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    result = check_lock(FileLock(blocker / "deeper" / "x.lock", timeout=1))
    assert result.status == "fail", result
    assert f"{blocker} is a file, not a folder" in result.detail
    assert "OAUTH_ETL_TOKEN_STORE" in result.fix and "Storage" not in result.fix
