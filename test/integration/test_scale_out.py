"""The scale-out topology itself: two shopd replicas over one PostgreSQL and one Redis.

Every other suite runs unchanged on this topology too (SHOPD_TEST_TOPOLOGY=scaleout);
these cases are about what only several replicas can get wrong: one order per
Idempotency-Key sent to both at once, no overselling with orders spread over both, a
product written through one never served stale by the other, limits counted once for
all, and a replica killed mid-load losing nothing. Plus the start-up refusals: an
unmigrated database, a missing shared JWT secret. PostgreSQL and Redis are the test's
own (pg_server.py, redis_server.py), whatever SHOPD_TEST_TOPOLOGY says.
"""
import hashlib
import os
import signal
import subprocess
import threading
import time
import unittest
import uuid

import pg_server
import redis_server
from harness import SHOPD_BIN, TEST_JWT_SECRET, ShopdServer, bearer, clean_env, unique_email, wait_for
from shop_support import (ADMIN_ENV, FINAL_STATUSES, SHOP_OPTIONS, admin_token, create_product, post_order,
                          wait_order_final)


def fresh_name(tag):
    return f"so_{tag}_{hashlib.sha1(uuid.uuid4().bytes).hexdigest()[:10]}"


class StartUpRefusalsTest(unittest.TestCase):
    def serve(self, url, env):
        return subprocess.run([SHOPD_BIN, "serve", "--listen", "127.0.0.1:0", "--database-url", url],
                              env=clean_env(env), capture_output=True, text=True, timeout=30)

    def test_an_unmigrated_database_is_refused_naming_shopd_migrate(self):
        pg = pg_server.shared_server()
        name = fresh_name("bare")
        pg.psql(f'CREATE DATABASE "{name}"')
        r = self.serve(pg.url(name), {"SHOPD_JWT_SECRET": TEST_JWT_SECRET})
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("shopd migrate", r.stdout + r.stderr)

    def test_a_postgres_database_needs_the_shared_jwt_secret(self):
        pg = pg_server.shared_server()
        url = pg.fresh_database(fresh_name("nosecret"), SHOPD_BIN)
        r = self.serve(url, {})
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("SHOPD_JWT_SECRET", r.stderr)

    def test_an_unreachable_database_fails_fast(self):
        started = time.monotonic()
        r = self.serve("postgres://shopd:hunter2@127.0.0.1:1/shop", {"SHOPD_JWT_SECRET": TEST_JWT_SECRET})
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertNotIn("hunter2", r.stdout + r.stderr)
        self.assertLess(time.monotonic() - started, 20)


class TwoReplicasTest(unittest.TestCase):
    """Replicas A and B: separate processes, separate caches and pools, one database, one Redis."""
    options = dict(SHOP_OPTIONS, **{"login-failures-per-account-ip": 5, "catalog-cache-ttl-ms": 600000,
                                    "job-lease-ms": 2000})

    @classmethod
    def setUpClass(cls):
        pg = pg_server.shared_server()
        url = pg.fresh_database(fresh_name("two"), SHOPD_BIN)
        cls.db_name = url.rsplit("/", 1)[1]
        env = dict(ADMIN_ENV, SHOPD_REDIS_URL=redis_server.shared_server().fresh_url())
        cls.a = ShopdServer(options=dict(cls.options, **{"database-url": url}), env=env).start()
        cls.b = ShopdServer(options=dict(cls.options, **{"database-url": url}), env=env).start()
        cls.admin = admin_token(cls.a)

    @classmethod
    def tearDownClass(cls):
        for srv in (cls.a, cls.b):
            srv.close()

    def scalar(self, sql):
        out = subprocess.run(["psql", "-X", "-tA", "-d", pg_server.shared_server().url(self.db_name), "-c", sql],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.strip()

    def test_one_idempotency_key_sent_to_both_at_once_makes_one_order(self):
        tok = self.a.create_user()["access"]
        p = create_product(self.a, self.admin, stock=100)
        for _ in range(10):
            key = str(uuid.uuid4())
            answers = [None, None]

            def send(i, srv):
                answers[i] = post_order(srv, tok, [(p["id"], 1)], key)

            threads = [threading.Thread(target=send, args=(i, srv)) for i, srv in enumerate((self.a, self.b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual({r[0] for r in answers}, {202}, [r[2][:200] for r in answers])
            self.assertEqual(answers[0][3]["id"], answers[1][3]["id"])
            self.assertEqual(self.scalar(f"SELECT count(*) FROM orders WHERE idempotency_key = '{key}'"), "1")

    def test_no_overselling_with_orders_spread_over_both(self):
        p = create_product(self.a, self.admin, stock=10)
        buyers = [self.a.create_user()["access"] for _ in range(30)]
        placed = [None] * len(buyers)

        def buy(i):
            srv = (self.a, self.b)[i % 2]
            placed[i] = post_order(srv, buyers[i], [(p["id"], 1)], str(uuid.uuid4()))

        threads = [threading.Thread(target=buy, args=(i,)) for i in range(len(buyers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertTrue(all(r[0] == 202 for r in placed), [r[:1] for r in placed])
        finals = [wait_order_final((self.a, self.b)[i % 2], buyers[i], placed[i][3]["id"], timeout=30)[3]["status"]
                  for i in range(len(buyers))]
        self.assertEqual(finals.count("confirmed"), 10, finals)
        self.assertEqual(self.scalar(f"SELECT stock FROM products WHERE id = '{p['id']}'"), "0")

    def test_a_write_through_one_is_never_served_stale_by_the_other(self):
        p = create_product(self.a, self.admin, stock=5)
        for srv in (self.a, self.b):  # both have read (and cached) it
            self.assertEqual(srv.request("GET", f"/v1/products/{p['id']}")[3]["stock"], 5)
        for stock in (7, 3, 9):
            body = {"name": p["name"], "price_cents": p["price_cents"], "currency": p["currency"], "stock": stock}
            self.assertEqual(self.a.request("PUT", f"/v1/products/{p['id']}", body=body,
                                            headers=bearer(self.admin))[0], 200)
            # At once, no wait: the write returned, so B must not answer the old row.
            self.assertEqual(self.b.request("GET", f"/v1/products/{p['id']}")[3]["stock"], stock)

    def test_a_rate_limit_is_counted_once_for_all_replicas(self):
        email = unique_email("limited")
        self.a.create_user(email=email)
        # 5 failures per account and address, wherever they land: A sees 3, B 2.
        statuses = [(self.a, self.b)[i % 2].login(email, "wrong password " + str(i))[0] for i in range(8)]
        self.assertEqual(statuses, [401] * 5 + [429] * 3)


class ReplicaKilledTest(unittest.TestCase):
    """kill -9 one replica while orders flow through both: every accepted order reaches a final
    status through the survivor, once, and the stock arithmetic is exact."""

    def test_every_accepted_order_finishes_after_a_replica_is_killed(self):
        pg = pg_server.shared_server()
        url = pg.fresh_database(fresh_name("kill"), SHOPD_BIN)
        env = dict(ADMIN_ENV, SHOPD_REDIS_URL=redis_server.shared_server().fresh_url())
        options = dict(SHOP_OPTIONS, **{"database-url": url, "job-lease-ms": 2000, "payment-latency-ms": 20})
        with ShopdServer(options=options, env=env) as a, ShopdServer(options=options, env=env) as b:
            admin = admin_token(a)
            p = create_product(a, admin, stock=1000)
            tok = a.create_user()["access"]
            accepted, stop = [], threading.Event()

            def load(srv):
                while not stop.is_set():
                    try:
                        r = post_order(srv, tok, [(p["id"], 1)], str(uuid.uuid4()))
                    except OSError:  # the killed replica's connections
                        continue
                    if r[0] == 202:
                        accepted.append(r[3]["id"])

            threads = [threading.Thread(target=load, args=(srv,)) for srv in (a, b, b)]
            for t in threads:
                t.start()
            time.sleep(1.0)
            os.kill(a.pid, signal.SIGKILL)
            time.sleep(0.5)
            stop.set()
            for t in threads:
                t.join()
            self.assertGreater(len(accepted), 10)

            def sql(query):
                out = subprocess.run(["psql", "-X", "-tA", "-d", url, "-c", query], capture_output=True, text=True,
                                     timeout=30)
                self.assertEqual(out.returncode, 0, out.stderr)
                return out.stdout.strip()

            # Orders A committed but never answered (killed mid-reply) count too: every
            # order the database holds reaches a final status, through B.
            self.assertTrue(wait_for(lambda: sql("SELECT count(*) FROM orders WHERE status NOT IN "
                                                 "('confirmed', 'rejected', 'cancelled')") == "0", 60,
                                     interval=0.5),
                            "an order never finished: " + sql("SELECT id, status FROM orders WHERE status NOT IN "
                                                              "('confirmed', 'rejected', 'cancelled') LIMIT 5"))
            ids = ",".join(f"'{oid}'" for oid in accepted)
            self.assertEqual(int(sql(f"SELECT count(*) FROM orders WHERE id IN ({ids})")), len(set(accepted)),
                             "every 202 is an order, once")
            confirmed = int(sql("SELECT count(*) FROM orders WHERE status = 'confirmed'"))
            self.assertEqual(int(sql(f"SELECT stock FROM products WHERE id = '{p['id']}'")), 1000 - confirmed,
                             "stock arithmetic")
            self.assertEqual(b.request("GET", f"/v1/products/{p['id']}")[3]["stock"], 1000 - confirmed)


class DependencyOutageTest(unittest.TestCase):
    """PostgreSQL restarted, Redis stopped: fast 503s or normal answers, never a hang or a 500, and
    shopd recovers by itself."""

    def test_a_postgres_restart_gets_fast_503s_and_shopd_recovers_alone(self):
        pg = pg_server.PostgresServer().start()
        self.addCleanup(pg.stop)
        url = pg.fresh_database("restart", SHOPD_BIN)
        options = dict(SHOP_OPTIONS, **{"database-url": url})
        with ShopdServer(options=options, env=dict(ADMIN_ENV)) as srv:
            admin = admin_token(srv)
            tok = srv.create_user()["access"]
            p = create_product(srv, admin, stock=100)
            self.assertEqual(post_order(srv, tok, [(p["id"], 1)], str(uuid.uuid4()))[0], 202)
            pg.stop_server()
            for _ in range(5):
                started = time.monotonic()
                r = post_order(srv, tok, [(p["id"], 1)], str(uuid.uuid4()))
                self.assertEqual(r[0], 503, r[2][:300])
                self.assertIn("retry-after", r[1])
                self.assertLess(time.monotonic() - started, 8.0, "a request in the gap must not hang")
            self.assertTrue(wait_for(lambda: srv.request("GET", "/ready")[0] == 503, 5, interval=0.2),
                            "/ready must report the unreachable primary")
            pg.start_again()
            self.assertTrue(wait_for(lambda: post_order(srv, tok, [(p["id"], 1)], str(uuid.uuid4()))[0] == 202, 30,
                                     interval=0.2), "shopd did not recover after PostgreSQL came back")
            self.assertEqual(srv.request("GET", f"/v1/products/{p['id']}")[0], 200)
            self.assertTrue(wait_for(lambda: srv.request("GET", "/ready")[0] == 200, 5, interval=0.2))

    def test_with_redis_stopped_reads_and_orders_keep_working(self):
        redis = redis_server.RedisServer().start()
        self.addCleanup(redis.stop)
        url = pg_server.shared_server().fresh_database(fresh_name("noredis"), SHOPD_BIN)
        options = dict(SHOP_OPTIONS, **{"database-url": url})
        with ShopdServer(options=options, env=dict(ADMIN_ENV, SHOPD_REDIS_URL=redis.fresh_url())) as srv:
            admin = admin_token(srv)
            tok = srv.create_user()["access"]
            p = create_product(srv, admin, stock=100)
            self.assertEqual(srv.request("GET", f"/v1/products/{p['id']}")[0], 200)
            redis.stop_process()
            for i in range(10):
                self.assertEqual(srv.request("GET", f"/v1/products/{p['id']}")[0], 200)
                r = post_order(srv, tok, [(p["id"], 1)], str(uuid.uuid4()))
                self.assertEqual(r[0], 202, r[2][:300])
                self.assertEqual(wait_order_final(srv, tok, r[3]["id"])[3]["status"], "confirmed")
            self.assertEqual(srv.login(unique_email("nobody"), "wrong")[0], 401, "limits answer from the fallback")
            metrics = srv.request("GET", "/metrics")[2].decode()
            self.assertIn("shopd_ratelimit_fallbacks_total", metrics)


if __name__ == "__main__":
    unittest.main()
