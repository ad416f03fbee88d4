"""The `mynth` command."""


def main() -> None:
    """Placeholder entry point."""
