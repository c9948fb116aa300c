"""Generative identity unlearning: GUIDE and related methods, as a reproducible workflow."""

__version__ = "0.1.0"
