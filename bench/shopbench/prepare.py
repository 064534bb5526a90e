"""Before the servers: packages, the tools the chosen cases use, the peers' copy, the build.

The peers folder (SHOPD_PEERS, read-only in CI) is copied to PEERS_CACHE and `npm ci` runs in
its node/ there; the copy is reused while the peers' files have the same SHA-256 fingerprint
(computed as run.sh did, so a copy it made is reused too).

Usage:
  install_packages(registry, settings)
  check_tools(settings)
  prepare_peers(registry, settings, out_dir, log)
  shopd = build_shopd(registry, settings, out_dir, log)
"""

import hashlib
import os
import pwd
import shutil
import stat
import sys
from pathlib import Path
from typing import Callable

from . import pg
from .errors import BenchError
from .settings import shown_path

PEER_FILES = ("node/hello.js", "node/cache.js", "node/queue.js", "node/worker.js",
              "nginx/nginx.conf.in", "wrk/post_order.lua")
_SKIPPED_NAMES = ("node_modules", "tmp")


def install_packages(registry, settings) -> None:
    if settings.skip_deps:
        return
    rc = registry.run(["bash", "-c", 'cd "$1" && bash scripts/install_deps.sh bench', "deps",
                       str(settings.repo)], timeout_s=None, stdout=sys.stderr.fileno())
    if rc != 0:
        raise BenchError(f"scripts/install_deps.sh bench failed (exit status {rc})")


def check_tools(settings) -> None:
    tools = ["wrk", "taskset"]
    if "nginx" in settings.servers():
        tools.append("nginx")
    if settings.needs_node:
        tools += ["node", "npm"]
    if settings.needs_redis:
        tools.append("redis-server")
    if settings.needs_postgres:
        tools += [str(pg.PG_BIN / tool) for tool in pg.TOOLS]
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing and settings.needs_postgres and pg.os_user():
        try:
            pwd.getpwnam(pg.os_user())
        except KeyError:
            missing.append(f"the {pg.os_user()} user (PostgreSQL refuses to run as root)")
    if missing:
        raise BenchError(f"missing tool: {' '.join(missing)} (scripts/install_deps.sh bench "
                         "installs them)")


def fingerprint(folder: Path) -> str:
    """sha256 of `sha256sum` over every file, sorted, node_modules/ and tmp/ left out (as
    run.sh: find . -prune ... -type f | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum)."""
    names = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_NAMES]
        for name in files:
            path = Path(root) / name
            if name not in _SKIPPED_NAMES and stat.S_ISREG(path.lstat().st_mode):
                names.append("./" + str(path.relative_to(folder)))
    listing = "".join(f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n"
                      for n in sorted(names, key=os.fsencode))
    return hashlib.sha256(listing.encode()).hexdigest()


def prepare_peers(registry, settings, out_dir: Path, log: Callable[[str], None]) -> None:
    if not settings.needs_peers:
        return
    src, cache = settings.peers_src, settings.peers_cache
    for name in PEER_FILES:
        if not (src / name).is_file():
            raise BenchError(f"peers not found at {src} (no {name}; set SHOPD_PEERS)")
    wanted = fingerprint(src)
    stamp = cache / ".fingerprint"
    if (stamp.is_file() and stamp.read_text().strip() == wanted
            and (cache / "node/node_modules/express/package.json").is_file()):
        log(f"peers: reusing {_shown(cache, settings)} (npm ci already done for this copy)")
        return
    log(f"peers: copying {_shown(src, settings)} to {_shown(cache, settings)} and running npm ci")
    shutil.rmtree(cache, ignore_errors=True)
    cache.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, cache, symlinks=True)
    _make_writable(cache)
    shutil.rmtree(cache / "node" / "node_modules", ignore_errors=True)
    shutil.rmtree(cache / "tmp", ignore_errors=True)
    if settings.needs_node:
        _npm_ci(registry, settings, cache / "node", out_dir / "npm-ci.log")
        stamp.write_text(wanted + "\n")


def _npm_ci(registry, settings, node_dir: Path, log_path: Path) -> None:
    with open(log_path, "wb") as log_file:
        rc = registry.run(["bash", "-c", 'cd "$1" && npm ci --no-audit --no-fund', "npm-ci",
                           str(node_dir)], timeout_s=settings.npm_timeout_s, stdout=log_file)
    if rc != 0:
        raise BenchError(f"npm ci failed (log: {_shown(log_path, settings)}):\n{_tail(log_path)}")


def _make_writable(folder: Path) -> None:
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)


def build_shopd(registry, settings, out_dir: Path, log: Callable[[str], None]) -> Path:
    """The Release build in build-release/ (unless SKIP_BUILD or SHOPD_BIN); the binary."""
    if settings.needs_shopd and not settings.skip_build:
        log("building Release shopd in build-release/")
        log_path = out_dir / "build.log"
        script = ("cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release && "
                  "cmake --build build-release --target shopd")
        with open(log_path, "wb") as log_file:
            rc = registry.run(["bash", "-c", f'cd "$1" && {script}', "build", str(settings.repo)],
                              timeout_s=settings.build_timeout_s, stdout=log_file)
        if rc != 0:
            raise BenchError(f"build failed (log: {_shown(log_path, settings)}):\n"
                             f"{_tail(log_path, 40)}")
    shopd = settings.shopd_path
    if settings.needs_shopd and not os.access(shopd, os.X_OK):
        raise BenchError(f"no shopd binary at {_shown(shopd, settings)}")
    return shopd


def _shown(path: Path, settings) -> str:
    return shown_path(path, settings.repo)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
