"""Load generation: Locust in a subprocess, samples streamed into the run's history.

The Moodle locustfile ships here (``moodle_locustfile.py``, run by path, never imported by the
harness: Locust patches with gevent on import); the cluster file's ``moodle:`` section reaches
it as ``MOODLE_*`` variables (``moodle_env``).
"""

from .locust_runner import DEFAULT_LOCUSTFILE, LoadError, LocustLoad
from .moodle_env import moodle_environment

__all__ = ["DEFAULT_LOCUSTFILE", "LoadError", "LocustLoad", "moodle_environment"]
