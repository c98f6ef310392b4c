"""`lab status`: look at every host and daemon (in parallel, short timeouts), then judge.

Gathering (``collect_status``) asks each running host what its roles report and folds the
answers into a ``LabStatus``; judging the directors (``judge_directors``) is a separate pure
function of that record and the topology, so it can be tested on a literal status.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from ..invariants import vips_not_held_once, vrrp_without_one_master
from ._auth_tier import slapd_status
from ._directors import directors_for
from ._file_tier import brick_status, mount_status
from ._interfaces import LabContext
from ._records import DB_FIELDS, DirectorStatus, HttpAnswer, LabStatus
from ._topology import VRRP_INSTANCES, Topology


def port_open(address: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def http_get(url: str, timeout: float) -> HttpAnswer:
    """One GET without raising; no redirects followed, no proxies."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return HttpAnswer(resp.status, dict(resp.headers), resp.read(65536).decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        return HttpAnswer(exc.code, dict(exc.headers or {}), exc.read(65536).decode(errors="replace"))
    except (OSError, ValueError) as exc:
        return HttpAnswer(None, {}, "", str(getattr(exc, "reason", exc)))


def clustercheck_figures(body: str) -> dict[str, str]:
    """The wsrep figures of a clustercheck answer (its JSON ``status``); {} if unreadable."""
    try:
        info = json.loads(body)["status"] if body else {}
    except (ValueError, KeyError, TypeError):
        return {}
    return info if isinstance(info, dict) else {}


def collect_status(lab: LabContext) -> LabStatus:
    """Look at every host and daemon (in parallel, short timeouts) and say what is wrong."""
    state = lab.load_state()
    topo, strategy = lab.topo, lab.strategy
    st = LabStatus(name=lab.name, state_dir=str(lab.state_dir), built=state.get("phase") in ("ready", "building"),
                   directors=lab.director_kind)
    if not state.exists:
        st.problems.append("lab is not up")
        return st
    for h in topo.hosts.values():
        st.hosts[h.name] = strategy.domain(lab, h).state(state)
    running = [h for h in topo.hosts.values() if st.hosts[h.name] == "running"]
    for name, s in st.hosts.items():
        if s != "running":
            st.problems.append(f"{name} is {s}")
    jobs: dict[str, Callable[[], Any]] = {}
    for h in running:
        jobs[f"ssh:{h.name}"] = functools.partial(port_open, h.address, 22)
        if h.has_role("director"):
            jobs[f"dir:{h.name}"] = functools.partial(strategy.director_status, lab, state, h)
        if h.has_role("web"):
            jobs[f"web:{h.name}"] = functools.partial(http_get, f"http://{h.address}/login/index.php", 2.0)
        if h.has_role("db"):
            jobs[f"db:{h.name}"] = functools.partial(http_get, f"http://{h.address}:9200/", 2.0)
        if h.has_role("ldap"):
            jobs[f"ldap:{h.name}"] = functools.partial(_ask, slapd_status, lab, h.name)
        if topo.file_tier != "none" and h.has_role("web"):
            jobs[f"mount:{h.name}"] = functools.partial(_ask, mount_status, lab, h.name)
    if topo.file_tier != "none":
        jobs["bricks:all"] = functools.partial(_ask, brick_status, lab, [h.name for h in running])
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futs = {k: pool.submit(fn) for k, fn in jobs.items()}
        res = {k: f.result() for k, f in futs.items()}
    for key, value in sorted(res.items()):
        kind, host = key.split(":")
        if kind == "ssh":
            add_ssh(st, host, value)
        elif kind == "dir":
            add_director(st, host, value)
        elif kind == "web":
            add_web(st, host, value)
        elif kind == "db":
            add_db(st, host, value, len(topo.with_role("db")))
        elif kind == "mount":
            add_mount(st, host, value)
        elif kind == "bricks":
            add_bricks(st, topo, value)
        elif kind == "ldap":
            add_ldap(st, host, value)
    st.problems.extend(judge_directors(st, topo))
    if not st.problems:
        answer = http_get(f"http://{topo.vips['web']}/login/index.php", 3.0)
        if answer.status != 200:
            st.problems.append(f"web VIP answers {answer.status or answer.error}")
    return st


def _ask(fn: Callable[..., Any], *args: Any) -> Any:
    """A file tier question whose failure (a host that does not answer) is its answer."""
    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001 (status reports, never raises)
        return f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


# -- folding one answer into the status (pure) ---------------------------------------------------
def add_mount(st: LabStatus, host: str, state: str) -> None:
    st.storage[host] = state
    if state != "mounted":
        st.problems.append(f"{host}: moodledata {state}")


def add_bricks(st: LabStatus, topo: Topology, bricks: dict[str, str] | str) -> None:
    """Each file server's brick; a string is why no file server could tell."""
    servers = [h.name for h in topo.with_role("fileserver")]
    if isinstance(bricks, str):
        st.problems.append(f"gluster volume status: {bricks}")
        return
    for name in servers:
        state = bricks.get(name, "not in the volume")
        st.storage[name] = f"brick {state}"
        if state != "online":
            st.problems.append(f"{name}: brick {state}")

def add_ldap(st: LabStatus, host: str, answer: dict[str, Any] | str) -> None:
    """One directory server: slapd up (pid) with its contextCSN, or why not (a problem)."""
    if isinstance(answer, str):
        answer = {"slapd": "down", "pid": None, "context_csn": [], "error": answer}
    st.ldap[host] = answer
    if answer.get("slapd") != "up":
        st.problems.append(f"{host}: slapd {answer.get('error') or 'down'}")


def add_ssh(st: LabStatus, host: str, answers: bool) -> None:
    st.ssh[host] = answers
    if not answers:
        st.problems.append(f"{host}: sshd not answering")


def add_director(st: LabStatus, host: str, d: DirectorStatus) -> None:
    st.vrrp[host] = d.vrrp
    for vip_name, held in d.vips_held.items():
        if held:
            st.vip_holders.setdefault(vip_name, []).append(host)
    st.backends[host] = d.backends
    if d.ipvs_table is not None:
        st.ipvs[host] = d.ipvs_table
    if d.error:
        st.problems.append(f"{host}: {d.error}")


def add_web(st: LabStatus, host: str, answer: HttpAnswer) -> None:
    code = answer.status
    st.web[host] = f"{code} {answer.headers.get('X-Lab-Node', '?')}" if code else f"error: {answer.error}"
    if code != 200:
        st.problems.append(f"{host}: apache answers {code or answer.error}")


def add_db(st: LabStatus, host: str, answer: HttpAnswer, cluster_size: int) -> None:
    info = clustercheck_figures(answer.body)
    st.db[host] = {k: (int(v) if k == "wsrep_cluster_size" and v.isdigit() else v) for k, v in info.items()
                   if k in DB_FIELDS}
    if answer.status != 200:
        st.problems.append(f"{host}: clustercheck answers {answer.status or answer.error} "
                           f"(wsrep {info.get('wsrep_local_state_comment', '?')})")
    elif st.db[host].get("wsrep_cluster_size") != cluster_size:
        st.problems.append(f"{host}: wsrep_cluster_size {st.db[host].get('wsrep_cluster_size')}")


def judge_directors(st: LabStatus, topo: Topology) -> list[str]:
    """Pure: what is wrong with the directors of ``st`` — a running director at all, each VIP
    held by exactly one, exactly one VRRP MASTER per instance, and the backends as their kind
    judges them (``Directors.backend_problems``)."""
    dirs = [h.name for h in topo.with_role("director") if st.hosts.get(h.name) == "running"]
    if not dirs:
        return ["no director running"]
    # the same invariants the audits and the recovery checker judge (harness.invariants)
    bad_vips = vips_not_held_once({"vip_holders": st.vip_holders}, topo.vips)
    problems = [f"VIP {vip} held by {bad_vips[vip] or 'nobody'}" for vip in topo.vips if vip in bad_vips]
    bad_vrrp = vrrp_without_one_master({"vrrp": {d: st.vrrp.get(d, {}) for d in dirs}}, VRRP_INSTANCES)
    problems += [f"VRRP {inst}: {len(bad_vrrp[inst])} MASTER(s) {bad_vrrp[inst]}"
                 for inst in VRRP_INSTANCES if inst in bad_vrrp]  # in the lab's instance order
    return problems + directors_for(st.directors).backend_problems(st, topo, dirs)
