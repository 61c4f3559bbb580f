"""Functional ops written by nn-B (attention, padding, sampling, CTC, ...): filled by nn-B."""

__all__: list[str] = []
