"""Delta tables merged from the landed batches: assets, checks, upkeep (oauth_etl.tables)."""
