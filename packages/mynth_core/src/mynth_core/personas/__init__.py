"""Personas: versioned character data, their events and use cases."""
