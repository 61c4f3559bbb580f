"""Layers written by nn-B (RNNs, attention, padding, sampling, ...): filled by nn-B."""

__all__: list[str] = []
