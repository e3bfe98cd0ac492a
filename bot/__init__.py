"""Sportello: answers businesses' questions about public support, from official texts."""

__version__ = "0.1.0"
