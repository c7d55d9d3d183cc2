"""Xero webhooks in Dagster: the queue resource and the sensor that drains it."""
