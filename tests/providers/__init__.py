"""Fake provider servers and token factories speaking the providers' real wire protocols."""
