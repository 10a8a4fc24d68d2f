"""Autoregressive texture models, the model proper and nothing else (leaves: torch and each other): one causal
transformer backbone x an ordering x a pixel codec. Training is ``texgen.training``; generation with a trained
model is ``texgen.generate``."""
