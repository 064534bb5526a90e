import signal
import subprocess
import sys
import unittest
from pathlib import Path

import _path  # noqa: F401
from shopbench import cases, pg, procs, servers, settings, shopd_api

REPO = Path("/repo")


def config(**env):
    s = settings.load({"RUNS": "1", **env}, REPO)
    return servers.StackConfig.for_run(s, REPO / "bench/out/x", Path("/scratch"))


class TableTest(unittest.TestCase):
    def test_server_groups_match_the_table(self):
        shopd = {name for name, server in servers.SERVERS.items()
                 if server.after_start is servers._set_up_shopd}
        self.assertEqual(shopd, set(cases.SHOPD_SERVERS))
        on_postgres = {name for name in servers.SERVERS
                       if "postgres" in servers.with_needs([name])}
        self.assertEqual(on_postgres, set(cases.POSTGRES_SERVERS))
        self.assertEqual(set(servers.STOP_ORDER), set(servers.SERVERS))
        for name in servers.STOP_ORDER:     # users before what they need
            for need in servers.SERVERS[name].needs:
                self.assertLess(servers.STOP_ORDER.index(name), servers.STOP_ORDER.index(need))

    def test_both_shopd_servers_run_the_same_command_with_their_own_files(self):
        c = config(CASES="orders orders-pg")
        shopd = c.argv(servers.SERVERS["shopd"].procs[0], "shopd")
        on_pg = c.argv(servers.SERVERS["shopd-pg"].procs[0], "shopd-pg")
        self.assertIn("/scratch/shopd-data", shopd)
        self.assertIn("/scratch/shopd-pg-data", on_pg)
        self.assertEqual(on_pg[-2:], ["--database-url", "postgres://shopd@127.0.0.1:18406/shop"])
        self.assertEqual(len(on_pg), len(shopd) + 2)
        self.assertEqual(c.fill(servers.SERVERS["shopd"].procs[0].stdout, "shopd"),
                         "/scratch/shopd-stdout.log")

    def test_postgres_runs_in_the_foreground_pinned_and_durable(self):
        c = config(CASES="pgbench")
        spec = servers.SERVERS["postgres"].procs[0]
        argv = c.argv(spec, "postgres")
        self.assertEqual(argv[:4], ["taskset", "-c", "0", str(pg.PG_BIN / "postgres")])
        for setting in ("listen_addresses=127.0.0.1", "unix_socket_directories=/scratch/postgres",
                        "max_connections=200", "fsync=on", "synchronous_commit=on"):
            self.assertIn(setting, argv)
        self.assertEqual((spec.user, spec.stop_signal, spec.ready.kind),
                         (pg.OS_USER, signal.SIGINT, "postgres"))


class SessionTest(unittest.TestCase):
    def test_session_is_only_a_shopd_servers_state(self):
        stack = servers.ServerStack(None, config(), print)
        session = servers.ShopdSession(shopd_api.ShopdClient(1), Path("/x"), Path("/y"))
        stack._running["shopd-pg"] = servers._Running(procs=[], state=session)
        stack._running["postgres"] = servers._Running(procs=[], state=pg.PostgresSession(None, 1))
        self.assertIs(stack.session("shopd-pg"), session)
        self.assertIsNone(stack.session("postgres"))
        self.assertIsNone(stack.session("shopd"))
        self.assertIsInstance(stack.state("postgres"), pg.PostgresSession)


class StopSignalTest(unittest.TestCase):
    def test_a_process_is_stopped_with_the_signal_it_was_spawned_with(self):
        child = ("import signal, sys, time\n"
                 "signal.signal(signal.SIGINT, lambda *a: sys.exit(7))\n"
                 "print('ready', flush=True)\n"
                 "time.sleep(30)\n")
        with procs.ProcessRegistry() as registry:
            proc = registry.spawn([sys.executable, "-c", child], stdout=subprocess.PIPE,
                                  stop_signal=signal.SIGINT, stop_grace_s=10)
            self.assertEqual(proc.stdout.readline(), b"ready\n")
            registry.stop(proc)
            proc.stdout.close()
        self.assertEqual(proc.returncode, 7)


if __name__ == "__main__":
    unittest.main()
