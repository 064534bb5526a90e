"""`shopd queue stats` and `shopd queue dead-letters` on the data directory, while the server
runs and after it stopped."""

import re
import unittest

from harness import ShopdServer, run_cli
from shop_support import (ADMIN_ENV, SHOP_OPTIONS, ReadOnlyDb, ShopTestCase, admin_token,
                          create_product, post_order, wait_order_final)

STATS_LINE = re.compile(r"^queue=(\S+)((?: \w+=\d+)+)\s*$")


def parse_stats(text):
    """{queue: {field: int}} from `queue stats` output."""
    out = {}
    for line in text.splitlines():
        m = STATS_LINE.match(line.strip())
        if m:
            out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
    return out


def where(srv):
    """The queue of `srv`: its data dir (embedded), or its database (scale-out)."""
    if "database-url" in srv.options:
        return ["--database-url", srv.options["database-url"]]
    return ["--data-dir", srv.data_dir]


class QueueCliTest(ShopTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = cls.server
        admin = cls.admin
        tok = srv.create_user()["access"]
        p = create_product(srv, admin, name="CLI item", stock=100)
        cls.order_ids = []
        for i in range(5):
            resp = post_order(srv, tok, [(p["id"], 1)], f"cli-{i}")
            assert resp[0] == 202, resp
            cls.order_ids.append(resp[3]["id"])
        for oid in cls.order_ids:
            final = wait_order_final(srv, tok, oid, 10)
            assert final[3]["status"] == "confirmed", final
        cls.db = ReadOnlyDb(srv.data_dir)

    def cli(self, *args):
        return run_cli(["queue"] + list(args) + where(self.server), timeout=20)

    def test_stats_while_running(self):
        r = self.cli("stats")
        out, err = r.stdout.decode(), r.stderr.decode()
        self.assertEqual(r.returncode, 0, f"stdout={out!r} stderr={err!r}")
        stats = parse_stats(out)
        self.assertIn("order-saga", stats, f"no order-saga line in {out!r}")
        saga = stats["order-saga"]
        for field in ("ready", "delayed", "in_flight", "dead", "completed"):
            self.assertIn(field, saga, out)
            self.assertGreaterEqual(saga[field], 0)
        self.assertGreaterEqual(saga["completed"], len(self.order_ids), out)
        self.assertEqual(saga["dead"], 0, out)

    def test_dead_letters_empty(self):
        r = self.cli("dead-letters")
        out, err = r.stdout.decode(), r.stderr.decode()
        self.assertEqual(r.returncode, 0, f"stdout={out!r} stderr={err!r}")
        self.assertFalse([l for l in out.splitlines() if l.startswith("id=")], out)
        r = self.cli("dead-letters", "--queue", "order-saga", "--limit", "10")
        self.assertEqual(r.returncode, 0, f"stdout={r.stdout!r} stderr={r.stderr!r}")

    def test_retry_unknown_id(self):
        r = self.cli("dead-letters", "--retry", "999999")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertEqual(r.returncode, 1, f"contract: unknown id -> exit 1; stderr={r.stderr!r}")
        self.assertTrue(r.stderr.strip(), "no message on stderr")
        # Nothing was changed by the failed retry.
        self.assertEqual(self.db.scalar("SELECT count(*) FROM jobs WHERE state = 'ready'") or 0, 0)

    def test_stats_after_stop(self):
        with ShopdServer(options=SHOP_OPTIONS, env=ADMIN_ENV) as srv:
            admin = admin_token(srv)
            tok = srv.create_user()["access"]
            p = create_product(srv, admin, name="CLI offline item", stock=10)
            ids = [post_order(srv, tok, [(p["id"], 1)], f"offline-{i}")[3]["id"] for i in range(3)]
            for oid in ids:
                self.assertEqual(wait_order_final(srv, tok, oid, 10)[3]["status"], "confirmed")
            srv.stop()
            r = run_cli(["queue", "stats"] + where(srv), timeout=20)
            self.assertEqual(r.returncode, 0, f"stdout={r.stdout!r} stderr={r.stderr!r}")
            stats = parse_stats(r.stdout.decode())
            self.assertGreaterEqual(stats.get("order-saga", {}).get("completed", 0), 3, r.stdout)


if __name__ == "__main__":
    unittest.main()
