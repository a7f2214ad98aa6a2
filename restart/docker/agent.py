"""A small program restart runs INSIDE the web container (``python3 - CMD HEX``, this file on stdin).

Why a program and not ``pkill``: SPLENT's slim prod image has no procps, and ``pkill -f 'flask
run'`` inside ``bash -c`` kills its own shell (the reference's bug).  This file reads ``/proc``,
never matches itself (it skips its own PID and ancestors, and matches on argv[0]/argv[1] only),
and does a whole step per ``docker exec``: stop with SIGTERM → wait → SIGKILL → check, reload
a gunicorn master and watch its workers change, or wait until the app answers.

It must stay self-contained (stdlib only, Python 3.6+) because it is sent as source text, on
stdin: SPLENT's start scripts ``pkill -f`` words this text contains, and a command line holding
it would be killed mid-probe.  For the same reason the arguments arrive hex-encoded (JSON).
Every command prints one JSON object on stdout.
"""
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request


def read_procs():
    """Every process as {pid, ppid, argv}, except the ones this program runs as."""
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                raw = f.read()
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        procs[int(entry)] = {"pid": int(entry), "ppid": int(fields[1]), "sid": int(fields[3]), "argv": argv,
                             "state": fields[0]}
    mine = set()
    pid = os.getpid()
    while pid in procs and pid not in mine:  # this program and whatever started it
        mine.add(pid)
        pid = procs[pid]["ppid"]
    return {pid: p for pid, p in procs.items() if pid not in mine}


def role(argv):
    """'gunicorn', 'watchmedo', 'flask' or None: judged on the program, never on arguments."""
    if not argv:
        return None
    heads = [os.path.basename(a) for a in argv[:2]]
    if argv[0].startswith("gunicorn") or "gunicorn" in heads:
        return "gunicorn"
    if "watchmedo" in heads:
        return "watchmedo"
    flask = "flask" in heads or (len(argv) > 2 and argv[1] == "-m" and argv[2] == "flask")
    if flask and "run" in argv[1:]:
        return "flask"
    return None


# The parent restart starts the app under (restart/docker/app.py REAPER): it reaps the app's processes
# where the container's PID 1 does not (``tail -f /dev/null``), and exits after the last of them.
REAPER_MARK = "splent-restart-reaper"
# A PID 1 that reaps orphans; anything else (tail, sleep, a plain program) lets them pile up.
INITS = ("docker-init", "tini", "tini-static", "dumb-init", "catatonit", "s6-svscan", "systemd", "init",
         "runit", "supervisord")


def is_reaper(argv):
    return len(argv) > 3 and argv[1] == "-c" and argv[3] == REAPER_MARK


def zombie_report(procs):
    """Zombies only PID 1 could reap, and app processes that will become such when stopped."""
    pid1 = procs.get(1, {"argv": []})["argv"]
    reaps = bool(pid1) and os.path.basename(pid1[0]) in INITS
    zombies = [p["pid"] for p in procs.values() if p["state"] == "Z" and p["ppid"] == 1]
    orphans = [p["pid"] for p in app_procs(procs) if p["ppid"] == 1 and not chain_to_init(procs, p["pid"])]
    return {"zombies": zombies, "orphans": [] if reaps else orphans, "pid1_reaps": reaps}


def app_procs(procs):
    return [dict(p, role=role(p["argv"])) for p in procs.values() if role(p["argv"])]


def chain_to_init(procs, pid):
    """True when pid belongs to the container's main process chain, not to a docker exec.

    Descending from PID 1 is not enough: an app that a ``docker exec``'d script started in the
    background is re-parented to PID 1 when the script exits.  It keeps the exec's session,
    though, while the main process chain shares PID 1's session.
    """
    if pid not in procs or 1 not in procs or procs[pid].get("sid") != procs[1].get("sid"):
        return False
    seen = set()
    while pid in procs and pid not in seen:
        if pid == 1:
            return True
        seen.add(pid)
        pid = procs[pid]["ppid"]
    return pid == 1


def status():
    procs = read_procs()
    apps = app_procs(procs)
    pids = {p["pid"] for p in apps}
    masters = [p for p in apps if p["role"] == "gunicorn" and procs.get(p["ppid"], {}).get("pid") not in pids]
    for p in apps:
        p["main"] = chain_to_init(procs, p["pid"])
    pid1 = procs.get(1, {"argv": []})["argv"]
    return {"apps": apps, "masters": [m["pid"] for m in masters], "pid1": pid1,
            "workers": {m["pid"]: sorted(p["pid"] for p in apps if p["ppid"] == m["pid"]) for m in masters},
            **zombie_report(procs)}


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def send(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


def stop(timeout):
    """SIGTERM the top of each app process tree, wait up to timeout, SIGKILL what is left.

    Only tree tops get SIGTERM: watchmedo stops its flask child itself, and a gunicorn master
    its workers; signalling a child directly makes its supervisor start a new one.
    """
    procs = read_procs()
    apps = app_procs(procs)
    pids = {p["pid"] for p in apps}
    roots = [p["pid"] for p in apps if p["ppid"] not in pids]
    reapers = sorted({p["ppid"] for p in apps if is_reaper(procs.get(p["ppid"], {}).get("argv", []))})
    send(roots, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    left = [p["pid"] for p in app_procs(read_procs())]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [p["pid"] for p in app_procs(read_procs())]
    killed = list(left)
    for _ in range(3):  # a supervisor may have started a new child meanwhile: catch it too
        if not left:
            break
        send(left, signal.SIGKILL)
        end = time.monotonic() + 2
        while time.monotonic() < end and any(alive(p) for p in left):
            time.sleep(0.05)
        left = [p["pid"] for p in app_procs(read_procs())]
        killed += [p for p in left if p not in killed]
    end = time.monotonic() + 2        # their reapers exit once they have reaped the last of them
    while time.monotonic() < end and any(alive(p) for p in reapers):
        time.sleep(0.02)
    return {"stopped": sorted(pids), "signalled": roots, "killed": killed, "left": left,
            "reapers": reapers, "reapers_left": [p for p in reapers if alive(p)]}


def http_status(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


def wait_ready(port, path, timeout, old_pids=()):
    """Poll every 0.1 s until an app process (not one of old_pids) runs and HTTP answers < 500.

    Gives up early when app processes appeared and then all vanished for 1.5 s: the app
    crashed on start, and waiting the full timeout would only hide that.
    """
    start = time.monotonic()
    code, apps, seen, gone_since = None, [], False, None
    while True:
        now = time.monotonic()
        apps = [p["pid"] for p in app_procs(read_procs()) if p["pid"] not in old_pids]
        code = http_status(port, path) if apps and port else None
        if apps and (not port or (code is not None and code < 500)):
            return {"ok": True, "status": code, "pids": apps, "seconds": now - start,
                    "zombies": len(zombie_report(read_procs())["zombies"])}
        if apps:
            seen, gone_since = True, None
        elif seen:
            gone_since = gone_since or now
        exited = gone_since is not None and now - gone_since > 1.5
        if exited or now - start > timeout:
            return {"ok": False, "status": code, "pids": apps, "seconds": now - start, "exited": exited}
        time.sleep(0.1)


def reload(master, timeout, port, path):
    """SIGHUP a gunicorn master; ok once every old worker is replaced and the app answers."""
    before = status()["workers"].get(master, [])
    send([master], signal.SIGHUP)
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        now = status()["workers"].get(master, [])
        if now and not set(now) & set(before):
            ready = wait_ready(port, path, max(0.5, timeout - (time.monotonic() - start)))
            return {"ok": ready["ok"], "before": before, "after": now, "status": ready["status"],
                    "seconds": time.monotonic() - start}
        time.sleep(0.1)
    return {"ok": False, "before": before, "after": status()["workers"].get(master, []),
            "status": None, "seconds": time.monotonic() - start}


def tail(paths, lines):
    out = {}
    for path in paths:
        try:
            with open(path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 64 * 1024))
                out[path] = f.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            pass
    return out


def files(paths):
    return {p: {"exists": os.path.isfile(p), "readable": os.access(p, os.R_OK)} for p in paths}


def envdiff(names):
    """Which of names differ between this program's environment (the wanted values, passed by
    NAME with docker exec -e) and each app process's: names only, never values."""
    differ, pids = set(), []
    for p in app_procs(read_procs()):
        try:
            with open(f"/proc/{p['pid']}/environ", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        env = dict(item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
        pids.append(p["pid"])
        differ |= {n for n in names if env.get(n.encode()) != os.environb.get(n.encode())}
    return {"pids": sorted(pids), "differ": sorted(differ)}


def installed():
    """What ``pip list --format=json`` prints, read from the installed metadata directly.

    Starting pip costs ~0.6 s of CPU; reading the same ``*.dist-info`` costs ~0.05 s.  The
    editable location follows pip's rule: a local ``direct_url.json`` marked editable (PEP
    660), else a legacy ``<name>.egg-link`` on sys.path, whose first line is the location.
    None when this Python (< 3.8) has no importlib.metadata: the caller then asks pip.
    """
    try:
        import importlib.metadata as metadata
        from urllib.parse import unquote, urlparse
    except ImportError:
        return None
    # pip drops the current directory from sys.path before it lists (pip/__main__.py): so do we
    paths = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]
    rows, seen = [], set()
    for dist in metadata.distributions(path=paths):
        name = dist.metadata["Name"]
        key = (name or "").lower().replace("_", "-").replace(".", "-")
        if not name or key in seen:   # pip lists the first of a name found on sys.path
            continue
        seen.add(key)
        row = {"name": name, "version": dist.version}
        location = None
        try:
            direct = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            direct = {}
        if direct.get("dir_info", {}).get("editable") and direct.get("url", "").startswith("file:"):
            location = unquote(urlparse(direct["url"]).path)
        else:
            for folder in paths:
                link = os.path.join(folder, name + ".egg-link")
                if os.path.isfile(link):
                    with open(link) as f:
                        location = f.readline().strip() or None
                    break
        if location:
            row["editable_project_location"] = location
        rows.append(row)
    return rows


def inspect(want_pip, paths):
    """Everything the read-only phase asks the container, in one exec."""
    return {"status": status(), "files": files(paths), "pip": installed() if want_pip == "pip" else None}


def main(args):
    cmd, rest = args[0], json.loads(bytes.fromhex(args[1]).decode()) if len(args) > 1 else []
    if cmd == "status":
        result = status()
    elif cmd == "stop":
        result = stop(float(rest[0]))
    elif cmd == "wait":
        result = wait_ready(int(rest[0]), rest[1], float(rest[2]), {int(p) for p in rest[3:]})
    elif cmd == "reload":
        result = reload(int(rest[0]), float(rest[1]), int(rest[2]), rest[3])
    elif cmd == "tail":
        result = tail(rest[1:], int(rest[0]))
    elif cmd == "files":
        result = files(rest)
    elif cmd == "envdiff":
        result = envdiff(rest)
    elif cmd == "inspect":
        result = inspect(rest[0], rest[1:])
    else:
        raise SystemExit(f"unknown agent command {cmd!r}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
