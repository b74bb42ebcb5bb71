"""Batch runs over many cases and their reports (no Qt)."""
