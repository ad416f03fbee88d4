"""Mynth core."""
