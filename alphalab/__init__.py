"""alphalab: an autonomous research lab. The core library never imports Prefect (except cli.py)."""

__version__ = "0.1.0"
