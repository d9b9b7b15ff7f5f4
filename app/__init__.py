"""Postmeter: schedule social posts and collect their real metrics."""

__version__ = "0.1.0"
