"""Colour-distribution analysis: exact counts, CIELAB and RGB statistics, plots."""
