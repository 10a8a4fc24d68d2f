"""texgen: curated texture datasets and autoregressive texture transformers."""

__version__ = "0.1.0"
