"""The bad-input matrix of issue #8 as data: case → the test that proves it → outcome.

Rows point at tests in this suite or at layer tests that already prove the case (no
duplicates). `test_bad_input.test_every_matrix_row_is_a_real_test` checks every row names
an existing test function and parameter id.
"""

from __future__ import annotations

from dataclasses import dataclass

BAD = "oauth_etl_tests/reliability/test_bad_input.py"
PROPS = "oauth_etl_tests/reliability/test_properties.py"
CRASH = "oauth_etl_tests/reliability/test_landing_crashes.py"


@dataclass(frozen=True)
class Row:
    case: str
    test: str  # path::function[param id]
    outcome: str


def _token(param: str, error: str) -> list[Row]:
    return [
        Row(
            f"token endpoint answers {param} on every attempt",
            f"{BAD}::test_bad_token_answer_every_time_fails_bounded_and_keeps_the_store[{param}]",
            f"TokenEndpointError naming the token endpoint and {error}, ending with the remedy "
            "(try again later, check XERO_IDENTITY_URL); 3 attempts; store unchanged; no token "
            "text",
        ),
        Row(
            f"token endpoint answers {param} once",
            f"{BAD}::test_bad_token_answer_once_recovers_and_saves_the_rotation[{param}]",
            "bounded recovery: same refresh token re-sent (grace), rotated set saved",
        ),
    ]


MATRIX: tuple[Row, ...] = (
    # -- token endpoint ------------------------------------------------------------------
    *_token("html", "'not JSON'"),
    *_token("empty", "'not JSON'"),
    *_token("truncated-json", "'not JSON'"),
    *_token("json-array", "'not a JSON object'"),
    *_token("missing-access_token", "the missing field"),
    *_token("missing-expires_in", "the missing field"),
    *_token("access_token-not-string", "the field's type"),
    *_token("expires_in-not-number", "the field's type"),
    *_token("refresh_token-not-string", "the field's type"),
    *_token("token_type-mac", "'Bearer only'"),
    *_token("http-500", "HTTP 500"),
    *_token("http-503-maintenance", "HTTP 503 and the maintenance text"),
    *_token("http-502-html", "HTTP 502"),
    Row(
        "token endpoint answers without refresh_token",
        f"{BAD}::test_answer_without_refresh_token_keeps_the_previous_one",
        "access token renewed, previous refresh token kept (RFC 6749 §6)",
    ),
    Row(
        "token endpoint answers expires_in '²', '0\\x1f', 1e20 or over a year, once",
        f"{BAD}::test_unparseable_expires_in_is_retried_like_a_lost_answer",
        "TokenEndpointError inside the manager, treated as a lost answer: same refresh token "
        "re-sent (grace), rotated set saved",
    ),
    Row(
        "token endpoint errors carry a remedy",
        f"{BAD}::test_token_endpoint_errors_say_what_to_do",
        "TokenEndpointError names the part and ends with 'The stored token set was not "
        "changed: try again later, and if it persists check XERO_IDENTITY_URL'; store unchanged",
    ),
    Row(
        "token endpoint 503 during a materialization (sandbox)",
        f"{BAD}::test_token_endpoint_outage_fails_the_materialization_and_keeps_the_token",
        "step fails with 'token endpoint: HTTP 503 … maintenance'; token file unchanged; no "
        "blob; next run lands",
    ),
    Row(
        "token endpoint answer truncated / HTML (sandbox)",
        "oauth_etl_tests/oauth/test_sandbox_integration.py::"
        "test_garbled_refresh_answer_is_treated_as_lost",
        "treated as a lost answer, re-sent in grace, rotated set saved",
    ),
    Row(
        "token endpoint connection refused / reset / read timeout",
        "oauth_etl_tests/oauth/test_endpoint.py::test_transport_errors_are_unreachable",
        "TokenEndpointUnreachable naming URL and XERO_IDENTITY_URL",
    ),
    Row(
        "token endpoint silent socket",
        "oauth_etl_tests/oauth/test_endpoint.py::test_real_timeout_against_a_silent_socket",
        "times out within the configured timeout",
    ),
    Row(
        "token endpoint 4xx error codes",
        "oauth_etl_tests/oauth/test_endpoint.py::test_error_mapping",
        "typed errors (InvalidGrant, InvalidClient, InvalidScope …) with remedies",
    ),
    Row(
        "token response fields, fuzzed",
        f"{PROPS}::test_any_token_answer_is_a_token_set_or_endpoint_error",
        "TokenSet or TokenEndpointError, never token text",
    ),
    Row(
        "token response expires_in odd ('²', '0\\x1f', ±10^400, over a year, 1e300)",
        f"{PROPS}::test_odd_expires_in_is_a_token_endpoint_error",
        "TokenEndpointError \"'expires_in' is not a positive number of seconds\"; no token text",
    ),
    Row(
        "token response token_type echoing the access token",
        f"{PROPS}::test_token_type_echoing_a_token_is_not_quoted",
        "TokenEndpointError 'Bearer only' with the token_type sanitized (token redacted)",
    ),
    # -- the API -------------------------------------------------------------------------
    Row(
        "API 500 after page 1 (materialization)",
        f"{BAD}::test_api_fault_fails_the_materialization_cleanly[500-after-page-1]",
        "step fails: 'Xero Invoices unavailable after 2 attempts (HTTP 500 …)', correlation id;"
        " no blob left (page-1 parts removed); token unchanged",
    ),
    Row(
        "API 503 maintenance (materialization)",
        f"{BAD}::test_api_fault_fails_the_materialization_cleanly[503-maintenance]",
        "step fails with the maintenance text and correlation id; no blob",
    ),
    Row(
        "API truncated JSON after page 1 (materialization)",
        f"{BAD}::test_api_fault_fails_the_materialization_cleanly[truncated-json]",
        "step fails: MalformedResponse naming page, correlation id, 'Retry the run'; no blob",
    ),
    Row(
        "API non-JSON (HTML) answer (materialization)",
        f"{BAD}::test_api_fault_fails_the_materialization_cleanly[non-json-html]",
        "step fails: MalformedResponse quoting the first bytes; no blob",
    ),
    Row(
        "API connection dropped (materialization)",
        f"{BAD}::test_api_fault_fails_the_materialization_cleanly[dropped-connection]",
        "step fails: XeroUnavailable 'no response: RemoteProtocolError'; no blob",
    ),
    Row(
        "API slower than the client timeout (materialization)",
        f"{BAD}::test_api_fault_fails_the_materialization_cleanly[slower-than-timeout]",
        "step fails after 2 x 0.5 s timeouts: 'no response: ReadTimeout'; no hang; no blob",
    ),
    Row(
        "API 503 once (materialization)",
        f"{BAD}::test_api_fault_that_ends_is_retried_and_lands_the_batch",
        "bounded recovery: one retry, a complete batch of 250 lands",
    ),
    Row(
        "API 429 minute x3 (sandbox)",
        f"{BAD}::test_429_storm_that_ends_recovers_against_the_sandbox",
        "waits Retry-After each time, extraction completes",
    ),
    Row(
        "API 429 minute forever (sandbox)",
        f"{BAD}::test_429_storm_that_never_ends_is_a_clear_error",
        "RateLimited 'kept answering 429 … Run again later', correlation id",
    ),
    *(
        Row(
            f"API 429 minute x{n} in a row (virtual clock)",
            f"{BAD}::test_429_storm_is_bounded_by_max_rate_limit_waits",
            "recovers" if n <= 10 else "RateLimited after exactly 11 calls",
        )
        for n in (1, 5, 10, 11, 40)
    ),
    Row(
        "API malformed bodies of every shape",
        "oauth_etl_tests/xero/test_client.py::"
        "test_malformed_bodies_name_endpoint_page_and_correlation_id",
        "MalformedResponse naming endpoint, page and correlation id",
    ),
    Row(
        "API transport errors and timeouts (unit)",
        "oauth_etl_tests/xero/test_client.py::test_transport_errors_and_timeouts_are_retried",
        "retried, then XeroUnavailable",
    ),
    Row(
        "API day limit",
        "oauth_etl_tests/xero/test_sandbox.py::test_day_limit_fault_stops_cleanly",
        "stops cleanly, cursor kept",
    ),
    Row(
        "API envelopes and pagination, fuzzed",
        f"{PROPS}::test_any_json_document_is_a_page_or_malformed_response",
        "Page or MalformedResponse",
    ),
    Row(
        "Xero dates out of datetime range (/Date(±10^15)/, ISO offset past year 1/9999)",
        f"{PROPS}::test_out_of_range_dates_are_a_value_error",
        "ValueError 'not a Xero date: … is out of range', no OverflowError",
    ),
    Row(
        "cursor before year 1000 (.NET DateTime.MinValue)",
        f"{PROPS}::test_cursor_of_dotnet_min_value_round_trips",
        "to_cursor writes '0001-01-01T00:00:00.000000Z', from_cursor reads it back",
    ),
    Row(
        "API DateTimeUTC out of datetime range",
        f"{PROPS}::test_envelope_with_out_of_range_server_time_still_parses",
        "page parses, server_time None (parse_xero_datetime: ValueError '… is out of range')",
    ),
    # -- token stores --------------------------------------------------------------------
    *(
        Row(
            f"Key Vault {what} on read",
            f"{BAD}::test_key_vault_read_failures_are_clear_and_refresh_nothing[{pid}]",
            "KeyVaultAccessError naming secret, vault and remedy; no refresh; bounded retries",
        )
        for what, pid in (("403", "get-403"), ("429", "get-429"), ("500", "get-500"))
    ),
    Row(
        "Key Vault 404 (secret missing)",
        f"{BAD}::test_key_vault_secret_missing_asks_for_authorization",
        "AuthorizationRequired naming the secret and `oauth-etl authorize`",
    ),
    *(
        Row(
            f"Key Vault {what} on write after a refresh",
            f"{BAD}::test_key_vault_write_failures_rescue_the_rotated_token[{pid}]",
            "TokenSaveFailed naming the rescue file (0600) and `oauth-etl token restore`; "
            "restore works and the rescued token refreshes",
        )
        for what, pid in (("403", "put-403"), ("429", "put-429"), ("500", "put-500"))
    ),
    Row(
        "Key Vault 429 x2 then fine",
        f"{BAD}::test_key_vault_throttling_that_ends_recovers",
        "Retry-After honoured, recovered",
    ),
    *(
        Row(
            f"token file {pid}",
            f"{BAD}::test_corrupt_token_file_is_a_clear_error_and_kept[{pid}]",
            "TokenStoreError naming the file (and restore/authorize); file kept; no refresh",
        )
        for pid in ("empty", "truncated", "zeroed", "array", "wrong-types", "html")
    ),
    Row(
        "token file of valid JSON but no token set: remedy",
        f"{BAD}::test_token_file_of_valid_json_but_no_token_set_says_what_to_do",
        "TokenStoreError naming the file and the problem, with `oauth-etl token restore` and "
        "`oauth-etl authorize`; file kept; no refresh",
    ),
    Row(
        "token file with wrong permissions",
        f"{BAD}::test_token_file_with_open_permissions_is_refused",
        "TokenStoreError 'run chmod 600 PATH'; no refresh; mode not silently changed",
    ),
    Row(
        "token file truncated at materialization",
        f"{BAD}::test_bad_token_file_fails_the_materialization_before_any_call[truncated]",
        "step fails naming the file; no API call; no blob",
    ),
    Row(
        "token file mode 0644 at materialization",
        f"{BAD}::test_bad_token_file_fails_the_materialization_before_any_call[mode-0644]",
        "step fails with 'chmod 600'; no API call; no blob",
    ),
    # -- landing -------------------------------------------------------------------------
    Row(
        "Azurite stopped mid-batch",
        f"{BAD}::test_azurite_stopped_mid_batch_is_unreachable_and_leaves_nothing",
        "StorageUnreachable naming the account and 'start Azurite' within 8 s (clean-up deletes "
        "not retried); no key in any text; after restart nothing listed and the next run lands",
    ),
    Row(
        "wrong storage key / SAS without rights",
        "oauth_etl_tests/storage/test_account_errors.py::"
        "test_wrong_key_is_an_auth_error_without_the_key",
        "StorageAuthError without the key",
    ),
    Row(
        "SIGKILL at random points of 20 uploads",
        f"{CRASH}::test_sigkill_at_random_points_of_20_uploads",
        "no batch without manifest listed; every listed batch verifies; next run lands",
    ),
    Row(
        "manifest bytes, fuzzed and mutated",
        f"{PROPS}::test_mutated_manifests_are_a_manifest_or_manifest_error",
        "Manifest or ManifestError",
    ),
    Row(
        "manifest extracted_at with an offset past year 1/9999",
        f"{PROPS}::test_manifest_with_out_of_range_timestamp_is_a_manifest_error",
        "ManifestError naming the blob, no OverflowError",
    ),
    Row(
        "corrupt or replaced part",
        "oauth_etl_tests/storage/test_landing.py::"
        "test_corrupt_part_raises_checksum_mismatch_naming_the_blob",
        "ChecksumMismatch naming the blob",
    ),
)
