"""The resources' own behaviour: the blob-lease lock speaks the token lifecycle's errors."""

import time

import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.defs.resources import LeaseLock
from oauth_etl.oauth.errors import LockTimeout
from oauth_etl.storage.lease import BlobLeaseLock


def test_a_busy_lease_times_out_as_a_lock_timeout_naming_the_blob(
    container: ContainerClient,
) -> None:
    blob = container.get_blob_client("_locks/xero-token.lock")
    holder = BlobLeaseLock(blob, lease_seconds=15, wait_timeout=5)
    waiter = LeaseLock(
        BlobLeaseLock(blob, lease_seconds=15, wait_timeout=1.0, poll_interval=0.2), 1.0
    )
    with holder.hold():
        started = time.monotonic()
        with pytest.raises(LockTimeout, match=r"xero-token\.lock"), waiter.hold():
            pass
        assert time.monotonic() - started < 10
    with waiter.hold():  # free again: taken at once
        pass


def test_resources_never_show_a_secret_in_repr_or_str() -> None:
    from oauth_etl.defs.resources import XeroApiResource, XeroOAuthResource
    from oauth_etl.defs.storage import LandingStorageResource

    storage = LandingStorageResource(
        connection_string="AccountName=a;AccountKey=canary-storage-key;", sas_token="sig=canary-sas"
    )
    oauth = XeroOAuthResource(
        client_id="cid", client_secret="canary-client-secret", storage=storage
    )
    for resource in (storage, oauth, XeroApiResource(oauth=oauth)):
        for text in (repr(resource), str(resource)):
            assert "canary" not in text, text
