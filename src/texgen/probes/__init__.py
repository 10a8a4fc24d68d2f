"""Probe evaluations of trained variants: colour, zebra, pattern, completion, free generation, speed."""
