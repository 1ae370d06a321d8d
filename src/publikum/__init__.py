"""Publikum: audience relationships and marketing automation for cultural institutions."""

__version__ = "0.1.0"
