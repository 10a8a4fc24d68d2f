"""Autoregressive texture models: one causal transformer backbone x an ordering x a pixel codec."""
