"""Xero: the tenants, one asset and one check per endpoint, and what runs them unattended."""
