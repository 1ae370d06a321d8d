"""Reproducible benchmarks: data generators, runners, reports (`python -m bench`)."""
