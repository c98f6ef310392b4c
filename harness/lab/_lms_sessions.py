"""Switch where a running lab's LMS keeps its sessions: ``database`` (shared by every web node,
the default) or ``node`` (PHP file sessions private to each web node, like a Moodle with file
sessions on local disk: a session dies with, and is known only to, the node that made it).

The setting is an Apache ``SetEnv`` (templates/apache2.conf); switching rewrites each web node's
apache2.conf, reloads it gracefully (requests in flight finish) and waits until every web node
answers with the new store in its ``X-Lab-Sessions`` header: real readiness, not a sleep.
"""

from __future__ import annotations

import time

from ..errors import LabError
from ._configs import LMS_SESSION_STORES, render_host_configs
from ._files import make_session_dir
from ._interfaces import LabContext
from ._state import locked
from ._status import http_get

#: a graceful reload replaces every child within a second or two on 2 busy cores
RELOAD_WAIT_S = 30.0
#: answers in a row with the new store a node must give (old children may still answer once)
CONSECUTIVE = 3


def switch_lms_sessions(lab: LabContext, store: str) -> None:
    """Rewrite the web nodes' config for ``store``, reload Apache, wait until every node uses it."""
    if store not in LMS_SESSION_STORES:
        raise LabError(f"lms_sessions {store!r}: use one of {', '.join(LMS_SESSION_STORES)}")
    webs = lab.topo.with_role("web")
    with locked(lab.state_dir):
        state = lab.load_state()
        if state.get("phase") != "ready":
            raise LabError(f"lab {lab.name!r} is not up (phase {state.get('phase')!r}); run `harness lab up`")
        state.set(config=dict(state.get("config", {}), lms_sessions=store))
        lms_pw = lab.paths.lms_password_file.read_text().strip()
        for host in webs:
            make_session_dir(lab.paths, host.name)
            conf = lab.paths.conf(host.name, "apache2.conf")
            content, mode = render_host_configs(lab.topo, host, lab.paths, lab.advert_int, lms_pw, lab.director_kind,
                                                lab.lvs_sync, db_durability=lab.db_durability, lms_sessions=store,
                                                ldap_hosts=lab.ldap_hosts)[conf]
            conf.write_text(content)
            conf.chmod(mode)
            lab.exec(host.name, ["/usr/sbin/apache2", "-f", str(conf), "-k", "graceful"], check=True, timeout=30)
    for host in webs:
        wait_for_store(lab, host.name, store)
    lab.say(f"lab LMS sessions: {store} on {', '.join(h.name for h in webs)}")


def node_store(lab: LabContext, host: str, timeout_s: float = 2.0) -> str | None:
    """The store ``host``'s LMS says it uses (``X-Lab-Sessions``), None without an answer."""
    answer = http_get(f"http://{lab.topo.host(host).address}/login/index.php", timeout_s)
    if answer.status is None:
        return None
    return next((v for k, v in answer.headers.items() if k.lower() == "x-lab-sessions"), None)


def wait_for_store(lab: LabContext, host: str, store: str, timeout_s: float = RELOAD_WAIT_S) -> None:
    """Until ``host`` answers ``CONSECUTIVE`` times in a row with ``store`` (bounded)."""
    deadline = time.monotonic() + timeout_s
    streak, seen = 0, None
    while time.monotonic() < deadline:
        seen = node_store(lab, host)
        streak = streak + 1 if seen == store else 0
        if streak >= CONSECUTIVE:
            return
        time.sleep(0.1)
    raise LabError(f"{host}: still answers X-Lab-Sessions {seen!r}, not {store!r}, {timeout_s:.0f}s after "
                   f"the Apache reload (see {lab.paths.log(host)}/apache-error.log)")
