"""The Dagster UI for real: `dagster-webserver` over the local stack, driven through GraphQL."""
