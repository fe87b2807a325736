"""Simulated stores on real sockets, as shoptrack's connectors reach real ones."""

from shoptrack.simulators.serving import serving

__all__ = ["serving"]
