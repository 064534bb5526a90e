"""What a result needs to be read later: the machine, git, tool versions, and load checks.

Usage:
  info = machine_info()               # before pinning: cpus counts this process's affinity
  check = load_check(registry, "before nginx express")   # 1 s idle sample + load average
"""

import json
import os
import re
import time
from pathlib import Path

from . import cpu, pg

BUSY_IDLE_PCT = 85    # below this idle share a load check lists the top CPU users


def machine_info() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": len(os.sched_getaffinity(0)), "model": model, "kernel": os.uname().release}


def git_info(registry, repo: Path) -> dict:
    rc, commit = registry.output(["git", "-C", str(repo), "rev-parse", "HEAD"])
    _, status = registry.output(["git", "-C", str(repo), "status", "--porcelain",
                                 "--untracked-files=no"])
    commit = commit.strip() if rc == 0 else ""
    return {"commit": commit, "short": commit[:7], "dirty": bool(status.strip())}


def _first_line(registry, argv) -> str:
    """The first line a tool prints (wrk -v prints its version, then exits 1 with its usage)."""
    rc, text = registry.output(argv, timeout_s=10)
    lines = text.strip().splitlines()
    return lines[0].strip() if rc != 127 and lines else ""


def _package_version(node_modules: Path, name: str) -> str:
    try:
        return json.loads((node_modules / name / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return ""


def versions(registry, settings, shopd: Path) -> dict:
    wrk_words = _first_line(registry, ["wrk", "-v"]).split()   # "wrk 4.1.0 [epoll] ..."
    found = {"wrk": wrk_words[1] if len(wrk_words) > 1 else ""}
    if settings.needs_shopd:
        found["shopd"] = _first_line(registry, [str(shopd), "--version"])
    if "nginx" in settings.servers():
        nginx = _first_line(registry, ["nginx", "-v"])      # "nginx version: nginx/1.22.1"
        found["nginx"] = nginx.removeprefix("nginx version: nginx/")
    if settings.needs_node:
        node_modules = settings.peers_cache / "node" / "node_modules"
        found["node"] = _first_line(registry, ["node", "-v"])
        found["express"] = _package_version(node_modules, "express")
        if settings.needs_redis:
            found["node-redis"] = _package_version(node_modules, "redis")
            found["bullmq"] = _package_version(node_modules, "bullmq")
    if settings.needs_redis:
        match = re.search(r"v=(\S+)", _first_line(registry, ["redis-server", "--version"]))
        found["redis-server"] = match.group(1) if match else ""
    if settings.needs_postgres:     # "postgres (PostgreSQL) 15.5 (Debian 15.5-0+deb12u1)"
        found["postgres"] = _first_line(registry, [str(pg.PG_BIN / "postgres"), "--version"]
                                        ).removeprefix("postgres (PostgreSQL) ")
    return found


def load_check(registry, label: str) -> dict:
    before = cpu.read_proc_stat()["cpu"]
    time.sleep(1)
    idle = cpu.idle_pct(before, cpu.read_proc_stat()["cpu"])
    check = {"label": label, "loadavg": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
             "idle_pct": idle, "top": []}
    if idle < BUSY_IDLE_PCT:
        _, text = registry.output(["top", "-b", "-n1", "-o", "%CPU", "-w", "200"], timeout_s=10)
        check["top"] = _top_users(text)
    return check


def _top_users(top_output: str, count: int = 5) -> list:
    rows = []
    for line in top_output.splitlines()[7:]:
        fields = line.split()
        try:
            if len(fields) > 8 and float(fields[8]) > 0:
                rows.append(line[:160])
        except ValueError:
            continue
    return rows[:count]
