"""Asset checks on what actually landed: read the committed batch back from blob storage.

Checking the landed bytes, not the records in flight, also proves the manifest and
its parts agree. Record IDs are kept as 8-byte hashes in a sorted array, so a batch
of a million records costs 8 MB to check, not a set of a million strings.
"""

import hashlib
import itertools
import warnings
from array import array

import dagster as dg

from oauth_etl.assets import TENANTS, asset_key
from oauth_etl.storage.reader import iter_records, latest_batch
from oauth_etl.storage.resource import AzureBlobStorageResource
from oauth_etl.xero.catalog import CATALOG, Endpoint


def _id_hash(value: object) -> int:
    digest = hashlib.blake2b(str(value).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def count_duplicates(hashes: "array[int]") -> int:
    return sum(1 for a, b in itertools.pairwise(sorted(hashes)) if a == b)


def build_batch_check(endpoint: Endpoint) -> dg.AssetChecksDefinition:
    key = asset_key(endpoint)
    with warnings.catch_warnings():
        # Partitioned checks are "preview" in Dagster 1.13; they are what lets a check
        # run per tenant, so we accept that and keep the warning out of every command.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _batch_check(endpoint, key)


def _batch_check(endpoint: Endpoint, key: dg.AssetKey) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=key,
        name="landed_batch_valid",
        partitions_def=TENANTS,
        description=(
            f"The latest landed batch of xero/{endpoint.name}: parts match the manifest's "
            f"sha256, `{endpoint.id_field or 'no id'}` is unique, and the record count equals the "
            "count Xero announced (`pagination.itemCount`) where it gave one."
        ),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, storage: AzureBlobStorageResource
    ) -> dg.AssetCheckResult:
        tenant_id = context.partition_key
        container = storage.container_client()
        manifest = latest_batch(
            container,
            prefix=storage.prefix,
            source="xero",
            tenant_id=tenant_id,
            endpoint=endpoint.name,
        )
        if manifest is None:
            return dg.AssetCheckResult(
                passed=False, description=f"no committed batch for tenant {tenant_id}"
            )
        hashes: array[int] = array("Q")
        landed = missing_ids = 0
        for record in iter_records(container, manifest, verify=True):
            landed += 1
            if endpoint.id_field is None:
                continue  # e.g. TaxRates: no single id to be unique
            record_id = record.get(endpoint.id_field)
            if record_id is None:
                missing_ids += 1
            else:
                hashes.append(_id_hash(record_id))
        duplicates = count_duplicates(hashes)
        expected = manifest.expected_records
        count_ok = expected is None or not manifest.complete or landed == expected
        return dg.AssetCheckResult(
            passed=duplicates == 0
            and missing_ids == 0
            and count_ok
            and landed == manifest.record_count,
            metadata={
                "batch_id": manifest.batch_id,
                "records": landed,
                "manifest_records": manifest.record_count,
                "expected_records": -1 if expected is None else expected,
                "duplicate_ids": duplicates,
                "records_without_id": missing_ids,
            },
        )

    return _check


BATCH_CHECKS: tuple[dg.AssetChecksDefinition, ...] = tuple(
    build_batch_check(endpoint) for endpoint in CATALOG
)
