"""`python -m lab` is `scep-lab`."""

from .cli import app

app(prog_name="scep-lab")
