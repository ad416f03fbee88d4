"""The token economy: the append-only ledger, accounts and their use cases."""
