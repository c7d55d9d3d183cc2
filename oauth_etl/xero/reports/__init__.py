"""Xero's Reports API: the report catalog, period plans, and readings flattened to cells."""
