"""Mynth adapters."""
