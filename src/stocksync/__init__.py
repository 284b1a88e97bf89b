"""stocksync: real-time inventory hub."""

__version__ = "0.1.0"
