"""Reliability suite: torture and fault-injection tests on real local servers (issue #8)."""
