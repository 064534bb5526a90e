"""Every child process of a benchmark run, and its stop.

Each child is started in its own session (setsid), so its PID is its process-group id, and it
is stopped by signalling that group: TERM (or the stop signal it was spawned with, e.g. INT for
PostgreSQL's fast shutdown), then KILL after 5 s (or its own grace). Whatever is still running when
the registry is left (normally, on an error, or on SIGINT / SIGTERM / SIGHUP, which raise
Interrupted) is stopped the same way, newest first, with further signals ignored so a second
Ctrl-C cannot leave a server behind. A signal that lands while a child is being started and
recorded is held until the child is recorded.

Usage:
  with ProcessRegistry() as registry:
      server = registry.spawn(["nginx", ...], stdout=log)      # long-running, stopped later
      rc = registry.run(["wrk", ...], timeout_s=40, stdout=out)   # bounded, waited for
      registry.stop(server)
      db = registry.spawn([...], user="postgres", stop_signal=signal.SIGINT, stop_grace_s=60)
"""

import os
import pwd
import signal
import subprocess
import time
from typing import Optional, Sequence

from .errors import Interrupted

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
TIMED_OUT = 124   # the exit status timeout(1) gives, as run.sh reported it


class ProcessRegistry:
    def __init__(self, stop_grace_s: float = 5.0):
        self._stop_grace_s = stop_grace_s
        self._live = {}              # pid -> Popen, in start order
        self._stops = {}             # pid -> (stop signal, grace s)
        self._holding = False
        self._held_signal = None
        self._saved_handlers = {}

    def __enter__(self):
        for signum in HANDLED_SIGNALS:
            self._saved_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc):
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        self.stop_all()
        for signum, handler in self._saved_handlers.items():
            signal.signal(signum, handler)
        return False

    def _on_signal(self, signum, frame):
        if self._holding:
            self._held_signal = signum
            return
        raise Interrupted(signum)

    def spawn(self, argv: Sequence[str], *, stdout=None, stderr=subprocess.STDOUT,
              env: Optional[dict] = None, stdin=subprocess.DEVNULL, user: Optional[str] = None,
              stop_signal: int = signal.SIGTERM,
              stop_grace_s: Optional[float] = None) -> subprocess.Popen:
        """Starts argv in a new session (as `user`, with that user's group and no supplementary
        groups, when given) and records it, with how it is stopped, until stop()."""
        identity = {}
        if user:
            entry = pwd.getpwnam(user)
            identity = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [],
                        "cwd": "/"}     # the caller's directory may be closed to that user
        self._holding = True
        try:
            proc = subprocess.Popen(list(argv), stdin=stdin, stdout=stdout, stderr=stderr,
                                    env=env, start_new_session=True, **identity)
            self._live[proc.pid] = proc
            self._stops[proc.pid] = (stop_signal, stop_grace_s)
        finally:
            self._holding = False
        if self._held_signal is not None:
            signum, self._held_signal = self._held_signal, None
            raise Interrupted(signum)
        return proc

    def run(self, argv: Sequence[str], *, timeout_s: Optional[float], stdout=None,
            stderr=subprocess.STDOUT, env: Optional[dict] = None,
            user: Optional[str] = None) -> int:
        """Runs argv to completion, stopped after timeout_s (then returns TIMED_OUT)."""
        proc = self.spawn(argv, stdout=stdout, stderr=stderr, env=env, user=user)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return TIMED_OUT
        finally:
            self.stop(proc)

    def output(self, argv: Sequence[str], *, timeout_s: float = 30,
               input_text: Optional[str] = None, user: Optional[str] = None) -> tuple:
        """Runs argv and returns (exit status, stdout + stderr); (127, "") if it is missing."""
        try:
            proc = self.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.PIPE if input_text is not None else
                              subprocess.DEVNULL, user=user)
        except OSError:
            return 127, ""
        try:
            out, _ = proc.communicate(input_text.encode() if input_text else None,
                                      timeout=timeout_s)
            return proc.returncode, out.decode(errors="replace")
        except subprocess.TimeoutExpired:
            return TIMED_OUT, ""
        finally:
            self.stop(proc)

    def stop(self, proc: subprocess.Popen) -> None:
        """Its stop signal (TERM) to the process group, KILL after the grace period; forgets
        the process."""
        if proc.pid not in self._live:
            return
        signum, grace_s = self._stops.pop(proc.pid)
        _signal_group(proc.pid, signum)
        deadline = time.monotonic() + (self._stop_grace_s if grace_s is None else grace_s)
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_group(proc.pid, signal.SIGKILL)   # also whatever the leader left behind
        proc.wait()
        del self._live[proc.pid]

    def stop_all(self) -> None:
        for proc in reversed(list(self._live.values())):
            self.stop(proc)

    def alive(self, proc: subprocess.Popen) -> bool:
        return proc.poll() is None


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
