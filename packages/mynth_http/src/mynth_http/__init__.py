"""Mynth http."""
