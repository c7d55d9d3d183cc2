"""Tenant partitions: one per Xero organisation the connection reaches."""

import dagster as dg

# Registered at run time by the `xero/tenants` asset and `xero_tenants_sensor`.
TENANTS = dg.DynamicPartitionsDefinition(name="xero_tenants")
