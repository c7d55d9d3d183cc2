"""Asset checks on what actually landed: read the committed batch back from blob storage.

Checking the landed bytes, not the records in flight, also proves the manifest and
its parts agree. Record IDs are kept as 8-byte hashes in a sorted array, so a batch
of a million records costs 8 MB to check, not a set of a million strings.
"""

import hashlib
import itertools
import warnings
from array import array
from typing import Any

import dagster as dg
from azure.storage.blob import ContainerClient

from oauth_etl.app.sets import DEFAULT, authorize_command
from oauth_etl.app.token_sets import set_error
from oauth_etl.defs.io_manager import recorded_metadata
from oauth_etl.defs.resources import XeroOAuthResource
from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.defs.xero.assets import asset_key
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import xero_tenants
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.storage.errors import ChecksumMismatch, ManifestError
from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.reader import iter_records, read_batch
from oauth_etl.xero.catalog import CATALOG, Endpoint

REFRESH_TOKEN_LIFETIME_DAYS = 60
WARN_DAYS_LEFT = 14
DAY = 86_400.0


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


def validate_batch(
    container: ContainerClient, manifest: Manifest, id_field: str | None
) -> dg.AssetCheckResult:
    """Read one landed batch back (verifying every part) and judge it."""
    hashes: array[int] = array("Q")
    landed = missing_ids = 0
    for record in iter_records(container, manifest, verify=True):
        landed += 1
        if id_field is None:
            continue  # e.g. TaxRates: no single id to be unique
        record_id = record.get(id_field)
        if record_id is None:
            missing_ids += 1
        else:
            hashes.append(_id_hash(record_id))
    duplicates = count_duplicates(hashes)
    expected = manifest.expected_records
    problems = [
        f"{duplicates} duplicate {id_field}" if duplicates else "",
        f"{missing_ids} records without {id_field}" if missing_ids else "",
        f"{landed} records, Xero announced {expected}"
        if expected is not None and manifest.complete and landed != expected
        else "",
        f"{landed} records, the manifest says {manifest.record_count}"
        if landed != manifest.record_count
        else "",
    ]
    found = [p for p in problems if p]
    return dg.AssetCheckResult(
        passed=not found,
        description="; ".join(found) or None,
        metadata={
            "batch_id": manifest.batch_id,
            "records": landed,
            "manifest_records": manifest.record_count,
            "expected_records": -1 if expected is None else expected,
            "duplicate_ids": duplicates,
            "records_without_id": missing_ids,
        },
    )


def judge_landed_batch(
    instance: dg.DagsterInstance,
    storage: LandingStorageResource,
    endpoint: Endpoint,
    tenant_id: str,
) -> dg.AssetCheckResult:
    """`landed_batch_valid` for one tenant: the batch its latest materialization recorded."""
    batch_id = recorded_metadata(instance, asset_key(endpoint), tenant_id).get("batch_id")
    if batch_id is None:
        return dg.AssetCheckResult(
            passed=False,
            description=f"no landed batch for tenant {tenant_id}: materialize the asset",
        )
    container = storage.container_client()
    try:
        manifest = read_batch(
            container,
            prefix=storage.prefix,
            source="xero",
            tenant_id=tenant_id,
            endpoint=endpoint.name,
            batch_id=batch_id,
        )
        return validate_batch(container, manifest, endpoint.id_field)
    except (ManifestError, ChecksumMismatch) as exc:
        return dg.AssetCheckResult(
            passed=False, description=str(exc), metadata={"batch_id": batch_id}
        )


def _batch_check(endpoint: Endpoint, key: dg.AssetKey) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=key,
        name="landed_batch_valid",
        partitions_def=TENANTS,
        description=(
            f"The batch of xero/{endpoint.name} that the tenant's latest materialization "
            f"landed (its `batch_id`): parts match the manifest's sha256, "
            f"`{endpoint.id_field or 'no id'}` is unique, and the record count equals the "
            "count Xero announced (`pagination.itemCount`) where it gave one."
        ),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, storage: LandingStorageResource
    ) -> dg.AssetCheckResult:
        return judge_landed_batch(context.instance, storage, endpoint, context.partition_key)

    return _check


# A module-level list: the defs autoloader collects lists of checks, not tuples.
BATCH_CHECKS: list[dg.AssetChecksDefinition] = [build_batch_check(e) for e in CATALOG]


@dg.asset_check(
    asset=xero_tenants,
    name="xero_token_health",
    description=(
        "Age of each refresh token and days left before Xero's 60-day expiry; warns at "
        f"{WARN_DAYS_LEFT} days, fails when a person must authorize again. Read-only. "
        "With several token sets, the worst set decides; metadata per set."
    ),
)
def xero_token_health(oauth: XeroOAuthResource) -> dg.AssetCheckResult:
    names = oauth.set_names()
    if len(names) == 1:
        return token_set_health(oauth, DEFAULT)
    return combined({name: token_set_health(oauth, name) for name in names})


def combined(results: dict[str, dg.AssetCheckResult]) -> dg.AssetCheckResult:
    """Several sets' health in one result: worst wins, metadata keyed `<set>/<key>`."""
    failing = {name: r for name, r in results.items() if not r.passed}
    severity = (
        dg.AssetCheckSeverity.ERROR
        if any(r.severity == dg.AssetCheckSeverity.ERROR for r in failing.values())
        else dg.AssetCheckSeverity.WARN
    )
    metadata: dict[str, Any] = {
        f"{name}/{key}": value.value
        for name, r in results.items()
        for key, value in (r.metadata or {}).items()
    }
    metadata["token_sets"] = ", ".join(results)
    return dg.AssetCheckResult(
        passed=not failing,
        severity=severity,
        description="; ".join(f"token set {name!r}: {r.description}" for name, r in failing.items())
        or None,
        metadata=metadata,
    )


def token_set_health(oauth: XeroOAuthResource, name: str) -> dg.AssetCheckResult:
    # Read-only: a health check that refreshed would hide the ageing it reports on.
    authorize = authorize_command(name)
    try:
        status = oauth.token_manager(name).status()
    except OAuthError as exc:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=set_error(name, exc),
            metadata={"remedy": authorize},
        )
    if not status.present or not status.has_refresh_token:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"no refresh token in {status.store}: run `{authorize}`",
            metadata={"store": status.store, "remedy": authorize},
        )
    refresh = "oauth-etl token refresh" + ("" if name == DEFAULT else f" --connection {name}")
    if status.refresh_token_age_seconds is None and status.refresh_days_left is None:
        # E.g. a refresh token imported from another tool: it may be days from death.
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                f"the refresh token's age is unknown: run `{refresh}` once "
                "to start counting Xero's 60 days"
            ),
            metadata={"store": status.store, "remedy": refresh},
        )
    age_days = (status.refresh_token_age_seconds or 0.0) / DAY
    days_left = (
        status.refresh_days_left
        if status.refresh_days_left is not None
        else REFRESH_TOKEN_LIFETIME_DAYS - age_days
    )
    metadata: dict[str, float | str] = {
        "refresh_token_age_days": round(age_days, 2),
        "days_left": round(days_left, 2),
        "store": status.store,
    }
    if days_left <= 0:
        severity = dg.AssetCheckSeverity.ERROR
        description = (
            f"The Xero refresh token went unused for {age_days:.0f} days and has expired: "
            f"run `{authorize}`."
        )
        metadata["remedy"] = authorize
    elif days_left <= WARN_DAYS_LEFT:
        severity = dg.AssetCheckSeverity.WARN
        description = (
            f"The Xero refresh token dies in {days_left:.1f} days: run "
            f"`{refresh}` (or turn on xero_token_keepalive_weekly)."
        )
    else:
        return dg.AssetCheckResult(passed=True, metadata=metadata)
    return dg.AssetCheckResult(
        passed=False, severity=severity, description=description, metadata=metadata
    )
