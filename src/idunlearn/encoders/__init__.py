"""Adapters for pretrained inversion encoders of the real setting (image -> W+)."""
