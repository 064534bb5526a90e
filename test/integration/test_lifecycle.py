"""Process lifecycle: graceful SIGTERM under load, worker restart, CLI behaviour."""

import http.client
import json
import os
import signal
import threading
import time
import unittest

from harness import (SCALE_OUT, ShopdServer, bearer, children_pids, free_port, group_members,
                     pid_alive, run_cli, unique_email, wait_for)

LOAD_THREADS = 8
MIN_OK_BEFORE_SIGTERM = 300
LOAD_BEFORE_SIGTERM_S = 1.0
LOAD_BOUND_S = 10.0       # the load phase never runs longer than this
EXIT_BOUND_S = 15.0


class LoadStats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.ok_after_sigterm = 0
        self.not_accepted = 0
        self.close_after_sigterm = 0
        self.failures = []

    def add(self, field, n=1):
        with self.lock:
            setattr(self, field, getattr(self, field) + n)

    def fail(self, what):
        with self.lock:
            self.failures.append(what)


class GracefulShutdownTest(unittest.TestCase):
    def test_sigterm_under_load_loses_nothing(self):
        with ShopdServer(options={"registrations-per-ip": 1000}) as srv:
            token = srv.create_user()["access"]
            port = srv.port
            stats = LoadStats()
            sigterm = threading.Event()
            stop = threading.Event()

            def client(idx):
                conn = None
                established = False
                hard_deadline = time.monotonic() + LOAD_BOUND_S + EXIT_BOUND_S + 5
                while not stop.is_set() and time.monotonic() < hard_deadline:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                        established = False
                        try:
                            conn.connect()
                        except OSError as e:
                            conn.close()
                            conn = None
                            if sigterm.is_set():
                                stats.add("not_accepted")
                                return  # the server stopped accepting: this client is done
                            stats.fail(f"t{idx}: connect failed before SIGTERM: {e!r}")
                            return
                    after = sigterm.is_set()
                    try:
                        conn.request("GET", "/v1/users/me", headers=bearer(token))
                        resp = conn.getresponse()
                        resp.read()
                    except (OSError, http.client.HTTPException) as e:
                        conn.close()
                        conn = None
                        if not established and sigterm.is_set():
                            stats.add("not_accepted")
                            return
                        where = "established" if established else "new"
                        stats.fail(f"t{idx}: no complete response on {where} connection "
                                   f"(sent {'after' if after else 'before'} SIGTERM): {e!r}")
                        continue
                    established = True
                    if resp.status != 200:
                        stats.fail(f"t{idx}: status {resp.status} (sent {'after' if after else 'before'} SIGTERM)")
                    else:
                        stats.add("ok")
                        if after:
                            stats.add("ok_after_sigterm")
                    if (resp.getheader("Connection") or "").lower() == "close":
                        if sigterm.is_set():
                            stats.add("close_after_sigterm")
                        conn.close()
                        conn = None
                if conn is not None:
                    conn.close()

            threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(LOAD_THREADS)]
            start = time.monotonic()
            for t in threads:
                t.start()
            wait_for(lambda: (time.monotonic() - start >= LOAD_BEFORE_SIGTERM_S
                              and stats.ok >= MIN_OK_BEFORE_SIGTERM) or stats.failures,
                     LOAD_BOUND_S, interval=0.02)
            self.assertEqual(stats.failures, [], "failures before SIGTERM")
            self.assertGreaterEqual(stats.ok, MIN_OK_BEFORE_SIGTERM,
                                    f"only {stats.ok} requests in {LOAD_BOUND_S}s of load")

            sigterm.set()
            sent_at = time.monotonic()
            os.kill(srv.pid, signal.SIGTERM)
            rc = srv.wait(EXIT_BOUND_S)
            exit_after = time.monotonic() - sent_at
            stop.set()
            for t in threads:
                t.join(15)
            self.assertFalse(any(t.is_alive() for t in threads), "client threads hung")
            self.assertIsNotNone(rc, f"shopd did not exit within {EXIT_BOUND_S}s of SIGTERM\n{srv.log_tail()}")
            self.assertEqual(rc, 0, f"exit code {rc}\n{srv.log_tail()}")
            self.assertEqual(stats.failures, [],
                             f"{len(stats.failures)} failed requests (ok={stats.ok}, "
                             f"not accepted={stats.not_accepted}); first: {stats.failures[:5]}")
            self.assertGreaterEqual(stats.ok, MIN_OK_BEFORE_SIGTERM)
            print(f"\n[graceful] ok={stats.ok} ok_after_sigterm={stats.ok_after_sigterm} "
                  f"close_after_sigterm={stats.close_after_sigterm} not_accepted={stats.not_accepted} "
                  f"exit_after={exit_after:.2f}s")

    def test_sigterm_finishes_slow_in_flight_requests(self):
        """Requests already being handled when SIGTERM arrives (slow password hashing) still
        get their complete answer, with Connection: close, and the process exits 0."""
        n = 4
        # One hash thread per request and a generous queue wait: this test is about draining
        # in-flight work, not about the hash pool's admission limits (test_hash_pool covers those).
        opts = {"argon2-memory-kib": 32768, "argon2-iterations": 8, "db-threads": n,
                "hash-threads": 1, "hash-queue-wait-ms": 60000, "registrations-per-ip": 1000}
        with ShopdServer(options=opts) as srv:
            results = [None] * n

            def register(i):
                try:
                    conn = srv.connection(timeout=30)
                    conn.request("POST", "/v1/auth/register", body=json.dumps(
                        {"email": unique_email(f"slow{i}"), "password": "slow password 1", "name": "S"}),
                        headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    results[i] = (resp.status, (resp.getheader("Connection") or "").lower())
                    conn.close()
                except (OSError, http.client.HTTPException) as e:
                    results[i] = (repr(e), "")

            threads = [threading.Thread(target=register, args=(i,), daemon=True) for i in range(n)]
            for t in threads:
                t.start()

            def in_flight():
                st, _, body, _ = srv.request("GET", "/metrics")
                for line in body.decode().splitlines():
                    if line.startswith("shopd_http_requests_in_flight"):
                        return float(line.split()[-1])
                return 0.0
            # n registrations plus this /metrics request itself.
            self.assertTrue(wait_for(lambda: in_flight() >= n + 1, 5.0, interval=0.01),
                            "registrations never were in flight together")
            self.assertTrue(all(r is None for r in results), f"hashing too fast for this test: {results}")
            srv.signal(signal.SIGTERM)
            rc = srv.wait(EXIT_BOUND_S)
            for t in threads:
                t.join(30)
            self.assertEqual(rc, 0, srv.log_tail())
            for i, r in enumerate(results):
                self.assertIsNotNone(r, f"request {i} never finished")
                self.assertEqual(r[0], 201, f"in-flight request {i} lost: {r}")
                self.assertEqual(r[1], "close", f"in-flight request {i}: no Connection: close during drain")

    def test_sigterm_idle_exits_zero(self):
        with ShopdServer() as srv:
            start = time.monotonic()
            rc = srv.stop(EXIT_BOUND_S)
            self.assertEqual(rc, 0, srv.log_tail())
            self.assertLess(time.monotonic() - start, 5.0, "idle server slow to stop")

    def test_sigint_exits_zero(self):
        with ShopdServer() as srv:
            srv.signal(signal.SIGINT)
            rc = srv.wait(EXIT_BOUND_S)
            self.assertEqual(rc, 0, srv.log_tail())

    def test_stops_accepting_after_sigterm(self):
        with ShopdServer() as srv:
            port = srv.port
            self.assertEqual(srv.stop(EXIT_BOUND_S), 0)
            with self.assertRaises(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/health")
                conn.getresponse()


class WorkerRestartTest(unittest.TestCase):
    def test_killed_worker_is_restarted(self):
        with ShopdServer(processes=2) as srv:
            kids = wait_for(lambda: len(children_pids(srv.pid)) == 2 and children_pids(srv.pid), 10)
            self.assertTrue(kids, f"expected 2 workers, have {children_pids(srv.pid)}\n{srv.log_tail()}")
            for pid in kids:
                rec = srv.wait_for_log(lambda r, p=pid: r.get("msg") == "worker started" and r.get("pid") == p)
                self.assertTrue(rec, f"no 'worker started' line for {pid}\n{srv.log_tail()}")
                self.assertIn("slot", rec)

            results = []  # (issued_at, ok, detail, completed_at)
            results_lock = threading.Lock()
            stop = threading.Event()

            def client():
                deadline = time.monotonic() + 40
                while not stop.is_set() and time.monotonic() < deadline:
                    issued = time.monotonic()
                    try:
                        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
                        conn.request("GET", "/health")
                        resp = conn.getresponse()
                        resp.read()
                        conn.close()
                        ok, detail = resp.status == 200, resp.status
                    except (OSError, http.client.HTTPException) as e:
                        ok, detail = False, repr(e)
                    with results_lock:
                        results.append((issued, ok, detail, time.monotonic()))

            t = threading.Thread(target=client, daemon=True)
            t.start()
            try:
                self.assertTrue(wait_for(lambda: len(results) >= 20, 10), "client made no progress")
                victim = kids[0]
                killed_at = time.monotonic()
                os.kill(victim, signal.SIGKILL)

                def replaced():
                    now = children_pids(srv.pid)
                    return now if len(now) == 2 and victim not in now else None
                new_kids = wait_for(replaced, 5.0)
                restarted_at = time.monotonic()
                self.assertTrue(new_kids, f"no replacement worker within 5 s: {children_pids(srv.pid)}\n"
                                          f"{srv.log_tail()}")
                new_pid = (set(new_kids) - set(kids)).pop()

                rec = srv.wait_for_log(lambda r: r.get("msg") == "worker exited" and r.get("pid") == victim)
                self.assertTrue(rec, f"no 'worker exited' line for pid {victim}\n{srv.log_tail()}")
                cause = str(rec.get("cause", ""))
                self.assertIn("signal", cause.lower())
                self.assertRegex(cause, r"\b9\b")
                self.assertIn("slot", rec)
                started = srv.wait_for_log(lambda r: r.get("msg") == "worker started" and r.get("pid") == new_pid)
                self.assertTrue(started, f"no 'worker started' line for the new worker {new_pid}")
                self.assertEqual(started.get("slot"), rec.get("slot"), "replacement should take the dead slot")

                # Keep the client going for a while after the restart.
                wait_for(lambda: sum(1 for r in list(results) if r[0] > restarted_at) >= 100
                         and time.monotonic() - restarted_at >= 1.0, 10)
            finally:
                stop.set()
                t.join(10)

            before = [r for r in results if r[3] < killed_at]  # completed before the kill
            after = [r for r in results if r[0] > restarted_at]
            self.assertTrue(before and all(r[1] for r in before), [r for r in before if not r[1]][:5])
            self.assertGreaterEqual(len(after), 20, "too few requests after the restart")
            bad = [r for r in after if not r[1]]
            self.assertEqual(bad, [], f"{len(bad)}/{len(after)} requests failed after the restart")

            all_kids = set(kids) | set(new_kids)
            srv.signal(signal.SIGTERM)
            rc = srv.wait(EXIT_BOUND_S)
            self.assertIsNotNone(rc, "supervisor did not exit within 15 s of SIGTERM")
            self.assertEqual(rc, 0, srv.log_tail())
            left = [p for p in all_kids if pid_alive(p)]
            self.assertEqual(left, [], "workers outlived the supervisor")
            self.assertEqual(group_members(srv.pid), [], "processes left in the server's process group")


class CliTest(unittest.TestCase):
    def serve_args(self, *extra):
        return ["serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", "data"] + list(extra)

    def test_help(self):
        for args in (["--help"], ["serve", "--help"]):
            with self.subTest(args=args):
                res = run_cli(args)
                self.assertEqual(res.returncode, 0, res.stderr)
                out = res.stdout.decode()
                for flag in ("--listen", "--data-dir", "--processes"):
                    self.assertIn(flag, out, f"`shopd {' '.join(args)}` does not mention {flag}")

    def test_serve_help_lists_all_flags(self):
        out = run_cli(["serve", "--help"]).stdout.decode()
        for flag in ("--threads", "--max-body-bytes", "--max-header-bytes", "--header-timeout-ms",
                     "--body-timeout-ms", "--idle-timeout-ms", "--write-timeout-ms", "--drain-timeout-ms",
                     "--max-connections", "--cors-origins", "--access-log", "--log-level", "--db-threads",
                     "--login-failures-per-account", "--login-failures-per-ip", "--registrations-per-ip",
                     "--rate-window-s", "--access-token-ttl-s", "--refresh-token-ttl-s",
                     "--argon2-memory-kib", "--argon2-iterations"):
            self.assertIn(flag, out)

    def test_version(self):
        res = run_cli(["--version"])
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stdout.decode(), r"\d+\.\d+\.\d+")

    def test_bad_option_values_exit_2(self):
        cases = [["--threads", "abc"], ["--max-body-bytes", "lots"], ["--idle-timeout-ms", "1.5s"],
                 ["--listen", "no-port-here"], ["--processes", "many"]]
        for extra in cases:
            with self.subTest(args=extra):
                res = run_cli(self.serve_args(*extra))
                self.assertEqual(res.returncode, 2, f"stdout={res.stdout[:300]!r} stderr={res.stderr[:300]!r}")
                self.assertTrue(res.stderr.strip(), "no message on stderr")
        res = run_cli(self.serve_args("--threads", "abc"))
        self.assertIn("threads", res.stderr.decode().lower())

    def test_bad_env_value_exit_2(self):
        res = run_cli(self.serve_args(), env={"SHOPD_THREADS": "abc"})
        self.assertEqual(res.returncode, 2, res.stderr[:300])
        self.assertTrue(res.stderr.strip())

    def test_unknown_flag_nonzero(self):
        for args in (self.serve_args("--no-such-flag"), ["--no-such-flag"], ["no-such-command"]):
            with self.subTest(args=args):
                res = run_cli(args)
                self.assertNotEqual(res.returncode, 0)
                self.assertTrue(res.stderr.strip(), "no message on stderr")

    def test_options_from_environment(self):
        with ShopdServer(listen_via_env=True) as srv:
            st, _, _, doc = srv.request("GET", "/health")
            self.assertEqual((st, doc), (200, {"status": "ok"}))
            srv.create_user()  # something to store
            self.assertTrue(os.path.isdir(srv.data_dir), "data dir from SHOPD_DATA_DIR not made")
            if not SCALE_OUT:  # scale-out keeps nothing there: its data is in PostgreSQL
                self.assertTrue(os.listdir(srv.data_dir), "data dir from SHOPD_DATA_DIR not used")

    def test_flag_wins_over_environment(self):
        env_port = free_port()
        with ShopdServer(env={"SHOPD_LISTEN": f"127.0.0.1:{env_port}"}) as srv:
            # The harness reached /health on the --listen port; the env port is unused.
            self.assertNotEqual(env_port, srv.port)
            with self.assertRaises(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", env_port, timeout=2)
                conn.request("GET", "/health")
                conn.getresponse()


if __name__ == "__main__":
    unittest.main()
