"""gxpml."""
