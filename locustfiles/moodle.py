"""`locust -f locustfiles/moodle.py`: the Moodle users of harness/load/moodle_locustfile.py (docs/moodle-http.md)."""

from harness.load.moodle_locustfile import MoodleUser

__all__ = ["MoodleUser"]  # Locust collects the User classes it finds in this module
