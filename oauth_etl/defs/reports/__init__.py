"""Xero's reports: raw answers landed per call, report tables, checks, the job (issue #21)."""
