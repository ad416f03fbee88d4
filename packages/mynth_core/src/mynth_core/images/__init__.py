"""Persona images: the model registry, image jobs and their ports."""
