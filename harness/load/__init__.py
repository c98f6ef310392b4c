"""Load generation: Locust in a subprocess, samples streamed into the run's history."""

from .locust_runner import DEFAULT_LOCUSTFILE, LoadError, LocustLoad

__all__ = ["DEFAULT_LOCUSTFILE", "LoadError", "LocustLoad"]
