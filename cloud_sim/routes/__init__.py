"""The cloud's HTTP surface, one module per area."""
