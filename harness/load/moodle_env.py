"""The cluster file's ``moodle:`` section as the ``MOODLE_*`` variables the locustfile reads.

Environment variables are only the transport between the runner and the Locust subprocess:
users write the settings once, in the cluster file (docs/cluster-file.md lists the variables
for a locustfile run by hand). The names here are the ones harness/load/moodle_locustfile.py
parses; tests/unit/test_load_moodle_env.py runs that file on this output to keep them in step.
"""

from __future__ import annotations

from ..inventory import Moodle


def moodle_environment(moodle: Moodle, *, source: str = "<memory>") -> dict[str, str]:
    """Every ``MOODLE_*`` setting the section decides, as strings.

    The accounts are always spelled out in full, so a ``MOODLE_USERS`` or series left in the
    caller's environment cannot mix with the file's. The password is read from ``password_env``
    now (an unset variable is an InventoryError naming the field and the variable); without
    ``password_env`` the locustfile keeps its own default.
    """
    accounts = moodle.accounts
    env: dict[str, str] = {
        "MOODLE_COURSE_ID": str(moodle.course_id),
        "MOODLE_FORUM_CMID": str(moodle.forum_cmid),
        "MOODLE_WAIT_MIN": repr(moodle.wait_min_s),
        "MOODLE_WAIT_MAX": repr(moodle.wait_max_s),
        "MOODLE_TIMEOUT": repr(moodle.timeout_s),
    }
    if accounts.usernames:
        # bare names: each takes MOODLE_USER_PASSWORD, so no password is spliced into a list
        env["MOODLE_USERS"] = ",".join(accounts.usernames)
    else:
        env.update({
            "MOODLE_USERS": "",  # empty is unset for the locustfile: the series below applies
            "MOODLE_USER_PREFIX": accounts.prefix,
            "MOODLE_USER_DIGITS": str(accounts.digits),
            "MOODLE_USER_START": str(accounts.first),
            "MOODLE_USER_COUNT": str(accounts.count),
        })
    password = moodle.password(source)
    if password is not None:
        env["MOODLE_USER_PASSWORD"] = password
    return env
