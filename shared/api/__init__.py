"""Pydantic wire models shared between parties (filled as the parties are built)."""
