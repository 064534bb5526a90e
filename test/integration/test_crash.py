"""Crash test (issue 3): several hundred concurrent orders, `kill -9` of shopd in the middle,
restart on the same data directory. Every order that got a 202 reaches a final status, none is
duplicated, and the stock arithmetic adds up exactly. Run three times, with the kill after
10 %, 40 % and 75 % of the orders were sent.

Clients: each order has its own Idempotency-Key. A connection error (or a 503) means "not
accepted": the client retries the same key and body, on the restarted server, until it gets a
202. After the restart every order that had been answered 202 before the kill is posted again
and must map to the same order (Idempotent-Replayed)."""

import os
import random
import shutil
import signal
import tempfile
import threading
import time
import unittest

from harness import ShopdServer, bearer, wait_for
from shop_support import (ADMIN_ENV, FINAL_STATUSES, SHOP_OPTIONS, FollowingClient, ReadOnlyDb,
                          admin_token, create_product, order_body)

N_ORDERS = 480
N_CLIENTS = 16
LOAD_BOUND_S = 60.0       # the whole client phase (including the restart) never runs longer
FINAL_BOUND_S = 60.0      # after the load, every order is final within this
RESTART_PAUSE_S = 0.3     # the server stays down this long (clients hit connection refused)

PRODUCTS = [  # (name, stock, price_cents)
    ("crash plenty A", 1_000_000, 120),
    ("crash plenty B", 1_000_000, 275),
    ("crash scarce C", 150, 990),
    ("crash scarce D", 12, 4999),
]


class OrderRecord:
    __slots__ = ("n", "user", "key", "items", "attempts", "errors", "resp_id", "resp_doc",
                 "replayed", "answered_gen", "unexpected")

    def __init__(self, n, user, key, items):
        self.n, self.user, self.key, self.items = n, user, key, items
        self.attempts = 0
        self.errors = []
        self.resp_id = None
        self.resp_doc = None
        self.replayed = None
        self.answered_gen = None
        self.unexpected = None


class CrashTest(unittest.TestCase):
    def test_kill_after_10_percent(self):
        self.run_crash(0.10, seed=10)

    def test_kill_after_40_percent(self):
        self.run_crash(0.40, seed=40)

    def test_kill_after_75_percent(self):
        self.run_crash(0.75, seed=75)

    # ------------------------------------------------------------------
    def run_crash(self, fraction, seed):
        tmp = tempfile.mkdtemp(prefix="shopd-crash-")
        if not os.environ.get("SHOPD_TEST_KEEP"):
            self.addCleanup(shutil.rmtree, tmp, True)
        data_dir = os.path.join(tmp, "data")
        options = dict(SHOP_OPTIONS, **{"job-lease-ms": 1000, "workers": 4, "access-log": "false"})
        srv = ShopdServer(options=options, env=ADMIN_ENV, data_dir=data_dir)
        self.addCleanup(srv.close)
        srv.start()
        self.srv = srv
        db = ReadOnlyDb(data_dir)

        admin = admin_token(srv)
        products = [create_product(srv, admin, name=n, stock=s, price_cents=c) for n, s, c in PRODUCTS]
        initial = {p["id"]: p["stock"] for p in products}
        price = {p["id"]: p["price_cents"] for p in products}
        users = [srv.create_user() for _ in range(N_CLIENTS)]

        rng = random.Random(seed)
        orders = []
        for n in range(N_ORDERS):
            chosen = rng.sample(products, rng.choice((1, 1, 2)))
            items = [(p["id"], rng.randint(1, 3)) for p in chosen]
            orders.append(OrderRecord(n, users[n % N_CLIENTS], f"crash-{seed}-{n:04d}", items))

        lock = threading.Lock()
        state = {"sent": 0, "gen": 0}
        kill_at = max(1, int(N_ORDERS * fraction))
        reached = threading.Event()
        load_deadline = time.monotonic() + LOAD_BOUND_S

        def post(client, rec):
            headers = dict(bearer(rec.user["access"]))
            headers["Idempotency-Key"] = rec.key
            return client.request("POST", "/v1/orders", body=order_body(rec.items), headers=headers)

        def client_loop(t):
            client = FollowingClient(srv)
            try:
                for rec in orders[t::N_CLIENTS]:
                    with lock:
                        state["sent"] += 1
                        if state["sent"] == kill_at:
                            # kill -9 right here, while the other clients have requests in flight
                            os.kill(srv.pid, signal.SIGKILL)
                            state["answered_at_kill"] = sum(1 for r in orders if r.resp_id is not None)
                            reached.set()
                    while time.monotonic() < load_deadline:
                        with lock:
                            gen = state["gen"]
                        rec.attempts += 1
                        st, headers, body, doc = post(client, rec)
                        if st is None or st == 503:
                            rec.errors.append((gen, st, doc if st is None else body[:120]))
                            time.sleep(0.05)
                            continue
                        if st == 202 and isinstance(doc, dict):
                            rec.resp_id = doc.get("id")
                            rec.resp_doc = doc
                            rec.replayed = headers.get("idempotent-replayed")
                            rec.answered_gen = gen
                        else:
                            rec.unexpected = (st, body[:300])
                        break
            finally:
                client.close()

        threads = [threading.Thread(target=client_loop, args=(t,), daemon=True) for t in range(N_CLIENTS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()

        self.assertTrue(reached.wait(LOAD_BOUND_S), "the load never reached the kill point")
        sent_at_kill = kill_at
        answered_before = state["answered_at_kill"]
        rc = srv.kill()
        self.assertEqual(rc, -signal.SIGKILL, f"shopd was not killed by SIGKILL: {rc}")
        with lock:
            state["gen"] = 1
        at_kill = {"jobs": db.query("SELECT state, count(*) FROM jobs GROUP BY state"),
                   "outbox": db.scalar("SELECT count(*) FROM outbox"),
                   "pending": db.scalar("SELECT count(*) FROM orders WHERE status = 'pending'")}
        time.sleep(RESTART_PAUSE_S)
        srv.start()

        for t in threads:
            t.join(max(0.0, load_deadline - time.monotonic()) + 5)
        load_s = time.monotonic() - t0
        self.assertFalse(any(t.is_alive() for t in threads), f"clients still running after {LOAD_BOUND_S}s")

        diag = (f"kill at {fraction:.0%}: {sent_at_kill} orders sent, {answered_before} answered before the "
                f"kill; load took {load_s:.1f}s; database at the kill: {at_kill}")
        unexpected = [(r.key, r.unexpected) for r in orders if r.unexpected]
        self.assertFalse(unexpected, f"{diag}; non-202 answers: {unexpected[:5]}")
        unanswered = [r.key for r in orders if r.resp_id is None]
        self.assertFalse(unanswered, f"{diag}; never accepted within {LOAD_BOUND_S}s: {unanswered[:10]}\n"
                                     f"{srv.log_tail(20)}")
        retried = [r for r in orders if r.errors]
        self.assertTrue(retried or fraction >= 1, f"{diag}; no client saw the crash")

        # Each 202 carries the catalog prices and the requested items.
        for r in orders:
            doc = r.resp_doc
            self.assertEqual(sorted((i["product_id"], i["quantity"], i["unit_price_cents"]) for i in doc["items"]),
                             sorted((p, q, price[p]) for p, q in r.items), r.key)

        # Orders answered before the kill survive it: the same key maps to the same order.
        before = [r for r in orders if r.answered_gen == 0]
        replay_problems = []

        def replay(t):
            client = FollowingClient(srv)
            try:
                for r in before[t::8]:
                    st, headers, body, doc = post(client, r)
                    if st != 202 or not isinstance(doc, dict) or doc.get("id") != r.resp_id \
                            or headers.get("idempotent-replayed") != "true":
                        replay_problems.append((r.key, r.resp_id, st, headers.get("idempotent-replayed"),
                                                body[:200]))
            finally:
                client.close()

        rthreads = [threading.Thread(target=replay, args=(t,), daemon=True) for t in range(8)]
        for t in rthreads:
            t.start()
        for t in rthreads:
            t.join(30)
        self.assertFalse(replay_problems, f"{diag}; replays after restart: {replay_problems[:5]}")

        # Every accepted order reaches a final status.
        ids = {r.resp_id for r in orders}
        self.assertEqual(len(ids), N_ORDERS, f"{diag}; two keys were answered with the same order id")

        def not_final():
            rows = db.query("SELECT id, status FROM orders")
            status = dict(rows)
            return [i for i in ids if status.get(i) not in FINAL_STATUSES]

        wait_for(lambda: not not_final(), FINAL_BOUND_S, interval=0.2)
        left = not_final()
        if left:
            self.fail(f"{diag}; {len(left)} orders not final after {FINAL_BOUND_S}s, e.g. "
                      f"{db.query('SELECT id, status, stock_reserved, payment FROM orders WHERE id = ?', (left[0],))}\n"
                      f"jobs: {db.query('SELECT state, count(*) FROM jobs GROUP BY state')}\n"
                      f"outbox: {db.scalar('SELECT count(*) FROM outbox')}\n{srv.log_tail(30)}")

        # No order is missing, none is duplicated, none was created that nobody asked for.
        rows = db.query("SELECT id, user_id, idempotency_key, status, reason, stock_reserved, payment FROM orders")
        by_id = {r[0]: r for r in rows}
        missing = ids - set(by_id)
        self.assertFalse(missing, f"{diag}; orders answered 202 but not in the database: {sorted(missing)[:5]}")
        dups = db.query("SELECT user_id, idempotency_key, count(*) FROM orders "
                        "GROUP BY user_id, idempotency_key HAVING count(*) > 1")
        self.assertEqual(dups, [], diag)
        for r in orders:
            self.assertEqual(db.scalar("SELECT count(*) FROM orders WHERE idempotency_key = ?", (r.key,)), 1, r.key)
            row = by_id[r.resp_id]
            self.assertEqual((row[1], row[2]), (r.user["id"], r.key), f"{diag}; order {r.resp_id}")
        self.assertEqual(len(rows), N_ORDERS, f"{diag}; extra orders in the database")

        # Stored items equal what was asked.
        items_db = {}
        for oid, pid, qty, unit in db.query("SELECT order_id, product_id, quantity, unit_price_cents FROM order_items"):
            items_db.setdefault(oid, []).append((pid, qty, unit))
        for r in orders:
            self.assertEqual(sorted(items_db.get(r.resp_id, [])), sorted((p, q, price[p]) for p, q in r.items), r.key)

        # Status invariants.
        statuses = [row[3] for row in rows]
        for row in rows:
            oid, _, key, status, reason, reserved, payment = row
            if status == "confirmed":
                self.assertEqual((reserved, payment), (1, "approved"), row)
            else:
                self.assertEqual(reserved, 0, f"{diag}; order holds stock but is {status}: {row}")
            if status == "rejected":
                self.assertEqual(reason, "out_of_stock", row)
        self.assertGreater(statuses.count("confirmed"), 0, diag)
        self.assertGreater(statuses.count("rejected"), 0, f"{diag}; scarce products never ran out")

        # Stock arithmetic, per product.
        consumed = {pid: 0 for pid in initial}
        for oid, row in by_id.items():
            if row[3] == "confirmed":
                for pid, qty, _ in items_db[oid]:
                    consumed[pid] += qty
        stocks = db.stocks()
        for pid in initial:
            self.assertEqual(stocks[pid], initial[pid] - consumed[pid],
                             f"{diag}; product {pid}: initial {initial[pid]}, confirmed {consumed[pid]}, "
                             f"now {stocks[pid]}")
        # A scarce product is never oversold and the scarcest one ran out.
        self.assertGreaterEqual(min(stocks.values()), 0)

        # The API agrees with the database.
        api_problems = []

        def check_api(t):
            client = FollowingClient(srv)
            try:
                for r in orders[t::8]:
                    st, _, body, doc = client.request("GET", f"/v1/orders/{r.resp_id}",
                                                      headers=bearer(r.user["access"]))
                    if st != 200 or doc.get("status") != by_id[r.resp_id][3]:
                        api_problems.append((r.resp_id, st, body[:200]))
            finally:
                client.close()

        athreads = [threading.Thread(target=check_api, args=(t,), daemon=True) for t in range(8)]
        for t in athreads:
            t.start()
        for t in athreads:
            t.join(30)
        self.assertFalse(api_problems, f"{diag}; GET disagrees with the database: {api_problems[:5]}")

        # Nothing is stuck: the outbox drains, every order has its order.created event, no dead jobs.
        drained = wait_for(lambda: db.scalar("SELECT count(*) FROM outbox") == 0, 15, interval=0.1)
        self.assertTrue(drained, f"{diag}; outbox still has {db.scalar('SELECT count(*) FROM outbox')} rows")
        created_events = {r[0] for r in db.query("SELECT key FROM events WHERE topic = 'order.created'")}
        self.assertFalse(ids - created_events, f"{diag}; orders without an order.created event")
        self.assertEqual(db.scalar("SELECT count(*) FROM jobs WHERE state = 'dead'"), 0,
                         f"{diag}; dead jobs: {db.query('SELECT id, attempts, last_error FROM jobs WHERE state = ? LIMIT 5', ('dead',))}")
        self.assertTrue(srv.alive(), f"{diag}; restarted shopd died\n{srv.log_tail(30)}")
        if os.environ.get("SHOPD_TEST_VERBOSE"):
            committed_unanswered = sum(1 for r in retried if r.replayed == "true")
            print(f"\n{diag}; retried {len(retried)} ({committed_unanswered} had been committed); confirmed {statuses.count('confirmed')}, "
                  f"rejected {statuses.count('rejected')}; stocks {sorted(stocks.values())}")


if __name__ == "__main__":
    unittest.main()
