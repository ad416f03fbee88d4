"""Publishing personas and the public catalog."""
