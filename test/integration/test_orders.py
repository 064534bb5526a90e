"""Orders and the order saga over real sockets: the full flow, ownership, cancel and refund, bad input,
idempotency (sequential and concurrent retries), no overselling, payment declines, and product stock
reads that follow the saga and cancellations at once (also across processes).
Database state is verified read-only with sqlite3 on <data-dir>/shopd.db."""

import random
import threading
import time
import unittest
import urllib.parse

from harness import ShopdServer, bearer, wait_for
from shop_support import (ADMIN_ENV, FINAL_STATUSES, SHOP_OPTIONS, ReadOnlyDb, ShopTestCase, admin_token,
                          create_product, get_order, order_body, post_order, random_uuid, wait_order_final)

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
ORDER_FIELDS = {"id", "status", "payment_status", "total_cents", "currency", "items", "created_at", "updated_at"}
PAYMENT_STATUSES = ("none", "approved", "declined", "refund_pending", "refunded")
FINAL_WAIT_S = 10.0


def run_threads(n, target, timeout=60.0):
    """Start n threads running target(i), released together by a barrier; join them."""
    barrier = threading.Barrier(n)
    errors = []

    def wrap(i):
        try:
            barrier.wait(10)
            target(i)
        except BaseException as e:  # reported by the caller
            errors.append(f"thread {i}: {e!r}")

    threads = [threading.Thread(target=wrap, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    alive = sum(t.is_alive() for t in threads)
    if alive:
        errors.append(f"{alive} threads still running after {timeout}s")
    return errors


class OrdersTestBase(ShopTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.db = ReadOnlyDb(cls.server.data_dir)
        cls._key_counter = 0

    def new_key(self, prefix="k"):
        type(self)._key_counter += 1
        return f"{prefix}-{self.id().rsplit('.', 1)[-1]}-{type(self)._key_counter}"

    def product(self, **fields):
        return create_product(self.server, self.admin, **fields)

    def assertOrderShape(self, doc):
        self.assertIsInstance(doc, dict, doc)
        keys = set(doc)
        self.assertTrue(ORDER_FIELDS <= keys, f"missing {ORDER_FIELDS - keys}: {doc}")
        self.assertTrue(keys <= ORDER_FIELDS | {"reason"}, f"unexpected {keys - ORDER_FIELDS}: {doc}")
        self.assertIsInstance(doc["id"], str)
        self.assertIn(doc["status"], ("pending", "cancelling") + FINAL_STATUSES)
        self.assertIn(doc["payment_status"], PAYMENT_STATUSES, doc)
        if doc["status"] == "confirmed":
            self.assertEqual(doc["payment_status"], "approved", doc)
        if doc["status"] == "cancelling":
            self.assertEqual(doc["payment_status"], "refund_pending", doc)
        self.assertRegex(doc["created_at"], RFC3339)
        self.assertRegex(doc["updated_at"], RFC3339)
        self.assertIsInstance(doc["items"], list)
        for it in doc["items"]:
            self.assertEqual(set(it), {"product_id", "quantity", "unit_price_cents"}, it)
        self.assertEqual(doc["total_cents"], sum(it["quantity"] * it["unit_price_cents"] for it in doc["items"]))
        if doc["status"] == "rejected":
            self.assertIn(doc.get("reason"), ("out_of_stock", "payment_declined"), doc)

    def place(self, token, items, key=None, expect=202):
        resp = post_order(self.server, token, items, key or self.new_key())
        self.assertStatus(resp, expect)
        return resp

    def final(self, token, order_id, timeout=FINAL_WAIT_S):
        resp = wait_order_final(self.server, token, order_id, timeout)
        self.assertStatus(resp, 200)
        doc = resp[3]
        self.assertIn(doc["status"], FINAL_STATUSES,
                      f"order {order_id} not final after {timeout}s: {doc}\n{self.server.log_tail(20)}")
        self.assertOrderShape(doc)
        return doc

    def wait_all_final(self, orders, timeout=30.0):
        """orders: list of (token, id). Polls the database (read-only), then reads every
        order over HTTP; returns {id: document}."""
        ids = [oid for _, oid in orders]

        def pending():
            rows = self.db.query(
                "SELECT id FROM orders WHERE status = 'pending' AND id IN (%s)" % ",".join("?" * len(ids)), ids)
            return [r[0] for r in rows]

        left = wait_for(lambda: not pending(), timeout, interval=0.1)
        if not left:
            self.fail(f"orders still pending after {timeout}s: {pending()[:10]}\n{self.server.log_tail(30)}")
        out = {}
        for token, oid in orders:
            resp = get_order(self.server, token, oid)
            self.assertStatus(resp, 200)
            self.assertOrderShape(resp[3])
            self.assertIn(resp[3]["status"], FINAL_STATUSES, resp[3])
            out[oid] = resp[3]
        return out

    def wait_refunded(self, token, order_id, timeout=FINAL_WAIT_S):
        def refunded():
            resp = get_order(self.server, token, order_id)
            return resp[0] == 200 and resp[3]["status"] == "cancelled"

        if not wait_for(refunded, timeout, interval=0.05):
            self.fail(f"order {order_id} not cancelled after {timeout}s: {get_order(self.server, token, order_id)}"
                      f"\n{self.server.log_tail(20)}")
        doc = get_order(self.server, token, order_id)[3]
        self.assertOrderShape(doc)
        return doc

    def make_users(self, n):
        users = [None] * n
        errors = run_threads(min(n, 10), lambda i: [users.__setitem__(j, self.server.create_user())
                                                   for j in range(i, n, min(n, 10))])
        self.assertFalse(errors, errors)
        return users


class OrderFlowTest(OrdersTestBase):
    def test_full_flow(self):
        alice = self.server.create_user(name="Alice")
        tok = alice["access"]
        mug = self.product(name="Flow mug", price_cents=1250, currency="USD", stock=20)
        pen = self.product(name="Flow pen", price_cents=199, currency="USD", stock=20)

        # Browse: both products are on the public list and readable one by one.
        listed = self.server.request("GET", "/v1/products")
        self.assertStatus(listed, 200)
        seen, cursor = {}, None
        for _ in range(100):
            q = "/v1/products" + (f"?cursor={urllib.parse.quote(cursor, safe='')}" if cursor else "")
            page = self.server.request("GET", q)
            self.assertStatus(page, 200)
            seen.update({p["id"]: p for p in page[3]["items"]})
            cursor = page[3]["next_cursor"]
            if cursor is None:
                break
        self.assertIn(mug["id"], seen)
        self.assertIn(pen["id"], seen)
        self.assertStatus(self.server.request("GET", f"/v1/products/{mug['id']}"), 200)

        resp = self.place(tok, [(mug["id"], 2), (pen["id"], 3)])
        _, headers, _, doc = resp
        self.assertOrderShape(doc)
        self.assertEqual(doc["status"], "pending")
        self.assertEqual(doc["currency"], "USD")
        self.assertEqual(doc["total_cents"], 2 * 1250 + 3 * 199)
        self.assertEqual(sorted((i["product_id"], i["quantity"], i["unit_price_cents"]) for i in doc["items"]),
                         sorted([(mug["id"], 2, 1250), (pen["id"], 3, 199)]))
        self.assertIn(doc["id"], headers.get("location", ""), headers)
        self.assertTrue(headers.get("location", "").endswith(f"/v1/orders/{doc['id']}"), headers)
        self.assertNotIn("idempotent-replayed", headers)
        # Committed before the 202.
        self.assertEqual(self.db.scalar("SELECT count(*) FROM orders WHERE id = ?", (doc["id"],)), 1)

        final = self.final(tok, doc["id"])
        self.assertEqual(final["status"], "confirmed", final)
        self.assertNotIn("reason", final)
        self.assertEqual(final["total_cents"], doc["total_cents"])
        self.assertEqual(self.db.stock(mug["id"]), 18)
        self.assertEqual(self.db.stock(pen["id"]), 17)
        self.assertEqual(self.db.query("SELECT status, stock_reserved, payment FROM orders WHERE id=?",
                                       (doc["id"],)), [("confirmed", 1, "approved")])

        # Prices come from the catalog at order time: a later price change does not touch this order.
        upd = self.server.request("PUT", f"/v1/products/{mug['id']}", headers=bearer(self.admin),
                                  body={"name": "Flow mug", "price_cents": 5000, "currency": "USD", "stock": 18})
        self.assertStatus(upd, 200)
        again = get_order(self.server, tok, doc["id"])
        self.assertEqual(again[3]["total_cents"], 2 * 1250 + 3 * 199)
        second = self.place(tok, [(mug["id"], 1)])[3]
        self.assertEqual(second["total_cents"], 5000)
        self.assertEqual(second["items"][0]["unit_price_cents"], 5000)
        self.final(tok, second["id"])

        # The list of own orders, newest first.
        mine = self.server.request("GET", "/v1/orders", headers=bearer(tok))
        self.assertStatus(mine, 200)
        self.assertEqual(set(mine[3]), {"items", "next_cursor"})
        self.assertEqual([o["id"] for o in mine[3]["items"]], [second["id"], doc["id"]])
        self.assertIsNone(mine[3]["next_cursor"])

    def test_client_cannot_set_prices(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Priced", price_cents=4200, stock=5)
        body = {"items": [{"product_id": p["id"], "quantity": 1, "unit_price_cents": 1}]}
        resp = post_order(self.server, tok, body, self.new_key())
        self.assertValidationError(resp)
        body = {"items": [{"product_id": p["id"], "quantity": 1}], "total_cents": 1}
        resp = post_order(self.server, tok, body, self.new_key())
        self.assertValidationError(resp, ["total_cents"])
        ok = self.place(tok, [(p["id"], 1)])[3]
        self.assertEqual(ok["total_cents"], 4200)

    def test_list_pagination_newest_first(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Many orders", price_cents=10, stock=1000)
        ids = [self.place(tok, [(p["id"], 1)])[3]["id"] for _ in range(7)]
        got, cursor, pages = [], None, 0
        while True:
            q = "/v1/orders?limit=3" + (f"&cursor={urllib.parse.quote(cursor, safe='')}" if cursor else "")
            page = self.server.request("GET", q, headers=bearer(tok))
            self.assertStatus(page, 200)
            got += [o["id"] for o in page[3]["items"]]
            for o in page[3]["items"]:
                self.assertOrderShape(o)
            cursor = page[3]["next_cursor"]
            pages += 1
            self.assertLess(pages, 20)
            if cursor is None:
                break
        self.assertEqual(got, list(reversed(ids)))
        self.assertGreaterEqual(pages, 3)
        self.wait_all_final([(tok, i) for i in ids])

    def test_orders_list_bad_query(self):
        tok = self.server.create_user()["access"]
        for c in ("garbage!!", "aGVsbG8gd29ybGQ", "%%%"):
            with self.subTest(cursor=c):
                resp = self.server.request("GET", f"/v1/orders?cursor={urllib.parse.quote(c, safe='')}",
                                           headers=bearer(tok))
                self.assertProblem(resp, 400, "invalid-cursor")
        for lim in ("0", "101", "x"):
            with self.subTest(limit=lim):
                resp = self.server.request("GET", f"/v1/orders?limit={lim}", headers=bearer(tok))
                self.assertProblem(resp, 400, "invalid-limit")

    def test_requires_authentication(self):
        p = self.product(name="Auth needed")
        resp = self.server.request("POST", "/v1/orders", body=order_body([(p["id"], 1)]),
                                   headers={"Idempotency-Key": self.new_key()})
        self.assertUnauthorized(resp)
        self.assertUnauthorized(self.server.request("GET", "/v1/orders"))
        self.assertUnauthorized(self.server.request("GET", f"/v1/orders/{random_uuid()}"))

    def test_other_users_order_is_404(self):
        owner = self.server.create_user()["access"]
        other = self.server.create_user()["access"]
        p = self.product(name="Private", stock=10)
        doc = self.place(owner, [(p["id"], 1)])[3]
        self.assertProblem(get_order(self.server, other, doc["id"]), 404, "not-found")
        self.assertProblem(self.server.request("POST", f"/v1/orders/{doc['id']}/cancel", headers=bearer(other)),
                           404, "not-found")
        listed = self.server.request("GET", "/v1/orders", headers=bearer(other))
        self.assertStatus(listed, 200)
        self.assertEqual(listed[3]["items"], [])
        # Even the admin does not see it through the user's order API.
        self.assertProblem(get_order(self.server, self.admin, doc["id"]), 404, "not-found")
        final = self.final(owner, doc["id"])
        self.assertEqual(final["status"], "confirmed")
        self.assertProblem(get_order(self.server, other, random_uuid()), 404, "not-found")

    def test_cancel_confirmed_restores_stock_once_and_refunds(self):
        tok = self.server.create_user()["access"]
        a = self.product(name="Cancel A", stock=10, price_cents=300)
        b = self.product(name="Cancel B", stock=5, price_cents=700)
        doc = self.place(tok, [(a["id"], 4), (b["id"], 5)])[3]
        self.assertEqual(doc["payment_status"], "none")
        confirmed = self.final(tok, doc["id"])
        self.assertEqual((confirmed["status"], confirmed["payment_status"]), ("confirmed", "approved"))
        self.assertEqual((self.db.stock(a["id"]), self.db.stock(b["id"])), (6, 0))

        # Paid: the cancel is accepted (202) and the money goes back before the order is cancelled.
        path = f"/v1/orders/{doc['id']}/cancel"
        first = self.server.request("POST", path, headers=bearer(tok))
        self.assertStatus(first, 202)
        self.assertOrderShape(first[3])
        self.assertEqual((first[3]["status"], first[3]["payment_status"]), ("cancelling", "refund_pending"))
        self.assertEqual(first[3]["id"], doc["id"])
        self.assertEqual((self.db.stock(a["id"]), self.db.stock(b["id"])), (10, 5), "stock released at once")

        done = self.wait_refunded(tok, doc["id"])
        self.assertEqual((done["status"], done["payment_status"]), ("cancelled", "refunded"))
        second = self.server.request("POST", path, headers=bearer(tok))
        self.assertStatus(second, 200)
        self.assertEqual((second[3]["status"], second[3]["payment_status"]), ("cancelled", "refunded"))
        self.assertEqual((self.db.stock(a["id"]), self.db.stock(b["id"])), (10, 5), "second cancel released again")
        self.assertEqual(self.db.query("SELECT status, stock_reserved, payment FROM orders WHERE id=?", (doc["id"],)),
                         [("cancelled", 0, "refunded")])
        # The released stock can be ordered again.
        again = self.place(tok, [(b["id"], 5)])[3]
        self.assertEqual(self.final(tok, again["id"])["status"], "confirmed")
        self.assertEqual(self.db.stock(b["id"]), 0)

    def test_cancel_concurrently_releases_once(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Cancel race", stock=8)
        doc = self.place(tok, [(p["id"], 8)])[3]
        self.assertEqual(self.final(tok, doc["id"])["status"], "confirmed")
        statuses = []
        errors = run_threads(8, lambda i: statuses.append(
            self.server.request("POST", f"/v1/orders/{doc['id']}/cancel", headers=bearer(tok))[0]))
        self.assertFalse(errors, errors)
        self.assertEqual(len(statuses), 8)
        self.assertTrue(set(statuses) <= {200, 202}, statuses)
        self.assertEqual(self.db.stock(p["id"]), 8)
        self.assertEqual(self.wait_refunded(tok, doc["id"])["payment_status"], "refunded")
        self.assertEqual(self.db.stock(p["id"]), 8)

    def test_cancel_rejected_is_409(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Sold out", stock=0)
        doc = self.place(tok, [(p["id"], 1)])[3]
        final = self.final(tok, doc["id"])
        self.assertEqual((final["status"], final.get("reason")), ("rejected", "out_of_stock"))
        resp = self.server.request("POST", f"/v1/orders/{doc['id']}/cancel", headers=bearer(tok))
        self.assertProblem(resp, 409, "order-not-cancellable")
        self.assertEqual(self.db.stock(p["id"]), 0)

    def test_all_or_nothing_reservation(self):
        tok = self.server.create_user()["access"]
        plenty = self.product(name="Plenty", stock=100)
        scarce = self.product(name="Scarce", stock=2)
        doc = self.place(tok, [(plenty["id"], 5), (scarce["id"], 3)])[3]
        final = self.final(tok, doc["id"])
        self.assertEqual((final["status"], final.get("reason")), ("rejected", "out_of_stock"))
        self.assertEqual((self.db.stock(plenty["id"]), self.db.stock(scarce["id"])), (100, 2))
        self.assertEqual(self.db.query("SELECT stock_reserved FROM orders WHERE id=?", (doc["id"],)), [(0,)])

    def test_mixed_currencies_422(self):
        tok = self.server.create_user()["access"]
        usd = self.product(name="Dollar thing", currency="USD")
        eur = self.product(name="Euro thing", currency="EUR")
        resp = post_order(self.server, tok, [(usd["id"], 1), (eur["id"], 1)], self.new_key())
        doc = self.assertValidationError(resp)
        self.assertTrue({e["field"] for e in doc["errors"]} & {"items[0].product_id", "items[1].product_id"}, doc)


class OrderBadInputTest(OrdersTestBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = cls.server.create_user()["access"]
        cls.p = create_product(cls.server, cls.admin, name="Bad input target", stock=1000)
        cls.q = create_product(cls.server, cls.admin, name="Bad input other", stock=1000)

    def setUp(self):
        super().setUp()
        self.orders_before = self.db.scalar("SELECT count(*) FROM orders")

    def assertNoOrders(self):
        self.assertEqual(self.db.scalar("SELECT count(*) FROM orders"), self.orders_before,
                         "a rejected request created an order")

    def test_missing_idempotency_key(self):
        resp = post_order(self.server, self.tok, [(self.p["id"], 1)], None)
        self.assertProblem(resp, 400, "idempotency-key-missing")
        self.assertNoOrders()

    def test_malformed_idempotency_key(self):
        for key in ("has space", "x" * 256, "tab\tkey", "caf\xe9"):
            with self.subTest(key=key[:20], length=len(key)):
                resp = post_order(self.server, self.tok, [(self.p["id"], 1)], key)
                self.assertProblem(resp, 400, "idempotency-key-invalid")
        # A control character may already be refused by the HTTP parser (400 bad-request).
        resp = post_order(self.server, self.tok, [(self.p["id"], 1)], "in\x7fvalid")
        self.assertEqual(resp[0], 400, resp)
        self.assertNoOrders()

    def test_boundary_idempotency_keys_accepted(self):
        keys = ["x", "k" * 255, "!#$%&'*+-.^_`|~:;<>=?@[]{}()/\\\"", "A1-b2_C3.d4"]
        for key in keys:
            with self.subTest(key=key[:20], length=len(key)):
                resp = post_order(self.server, self.tok, [(self.q["id"], 1)], key)
                self.assertStatus(resp, 202)
                self.assertEqual(self.db.scalar("SELECT count(*) FROM orders WHERE idempotency_key = ?", (key,)), 1)

    def test_bad_bodies(self):
        pid = self.p["id"]
        cases = [
            ("no items field", {}, ["items"]),
            ("items null", {"items": None}, ["items"]),
            ("items not a list", {"items": {"product_id": pid, "quantity": 1}}, ["items"]),
            ("empty items", {"items": []}, ["items"]),
            ("51 items", {"items": [{"product_id": random_uuid(), "quantity": 1} for _ in range(51)]}, ["items"]),
            ("quantity 0", order_body([(pid, 0)]), ["items[0].quantity"]),
            ("quantity 1001", order_body([(pid, 1001)]), ["items[0].quantity"]),
            ("quantity negative", order_body([(pid, -1)]), ["items[0].quantity"]),
            ("quantity string", order_body([(pid, "2")]), ["items[0].quantity"]),
            ("quantity float", order_body([(pid, 1.5)]), ["items[0].quantity"]),
            ("quantity missing", {"items": [{"product_id": pid}]}, ["items[0].quantity"]),
            ("product_id missing", {"items": [{"quantity": 1}]}, ["items[0].product_id"]),
            ("product_id number", order_body([(123, 1)]), ["items[0].product_id"]),
            ("second item bad", order_body([(pid, 1), (self.q["id"], 0)]), ["items[1].quantity"]),
            ("duplicate product ids", order_body([(pid, 1), (pid, 2)]), []),
            ("unknown item field", {"items": [{"product_id": pid, "quantity": 1, "color": "red"}]}, []),
            ("unknown top-level field", dict(order_body([(pid, 1)]), note="hi"), ["note"]),
            ("item not an object", {"items": [pid]}, ["items[0]"]),
            ("unknown product", order_body([(random_uuid(), 1)]), ["items[0].product_id"]),
            ("second product unknown", order_body([(pid, 1), (random_uuid(), 1)]), ["items[1].product_id"]),
        ]
        for label, body, fields in cases:
            with self.subTest(label):
                resp = post_order(self.server, self.tok, body, self.new_key())
                doc = self.assertValidationError(resp, fields)
                if label == "duplicate product ids":
                    self.assertTrue(any(e["field"].startswith("items") for e in doc["errors"]), doc)
        self.assertNoOrders()

    def test_not_an_object_and_malformed(self):
        for raw in (b"[]", b"7"):
            with self.subTest(raw=raw):
                resp = self.server.request("POST", "/v1/orders", raw_body=raw,
                                           headers=dict(bearer(self.tok), **{"Idempotency-Key": self.new_key()}))
                self.assertValidationError(resp)
        for raw in (b"{", b'{"items": [}', b"nope"):
            with self.subTest(raw=raw):
                resp = self.server.request("POST", "/v1/orders", raw_body=raw,
                                           headers=dict(bearer(self.tok), **{"Idempotency-Key": self.new_key()}))
                self.assertProblem(resp, 400, "malformed-json")
        self.assertNoOrders()

    def test_50_items_accepted(self):
        products = [create_product(self.server, self.admin, name=f"Fifty {i}", stock=5, price_cents=1 + i)
                    for i in range(50)]
        resp = post_order(self.server, self.tok, [(p["id"], 1) for p in products], self.new_key())
        self.assertStatus(resp, 202)
        self.assertEqual(len(resp[3]["items"]), 50)
        self.assertEqual(resp[3]["total_cents"], sum(1 + i for i in range(50)))
        final = self.final(self.tok, resp[3]["id"])
        self.assertEqual(final["status"], "confirmed")

    def test_unknown_order_and_cancel_404(self):
        self.assertProblem(get_order(self.server, self.tok, random_uuid()), 404, "not-found")
        self.assertProblem(self.server.request("POST", f"/v1/orders/{random_uuid()}/cancel",
                                               headers=bearer(self.tok)), 404, "not-found")


class IdempotencyTest(OrdersTestBase):
    def test_sequential_retries(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Idem seq", stock=50, price_cents=250)
        key = self.new_key("seq")
        first = self.place(tok, [(p["id"], 3)], key)
        self.assertNotIn("idempotent-replayed", first[1])
        for _ in range(5):
            again = self.place(tok, [(p["id"], 3)], key)
            self.assertEqual(again[3]["id"], first[3]["id"])
            self.assertEqual(again[1].get("idempotent-replayed"), "true", again[1])
            self.assertEqual(again[3]["total_cents"], 750)
            self.assertTrue(again[1].get("location", "").endswith(f"/v1/orders/{first[3]['id']}"))
        self.assertEqual(self.final(tok, first[3]["id"])["status"], "confirmed")
        # Retried after the saga finished: still the same order, nothing reserved twice.
        late = self.place(tok, [(p["id"], 3)], key)
        self.assertEqual(late[3]["id"], first[3]["id"])
        time.sleep(0.3)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM orders WHERE idempotency_key = ?", (key,)), 1)
        self.assertEqual(self.db.stock(p["id"]), 47)

    def test_concurrent_retries(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Idem conc", stock=40, price_cents=100)
        for round_no in range(3):
            key = self.new_key("conc")
            results = []
            errors = run_threads(10, lambda i: results.append(post_order(self.server, tok, [(p["id"], 2)], key)))
            self.assertFalse(errors, errors)
            self.assertEqual([r[0] for r in results], [202] * 10, [r[2][:200] for r in results])
            ids = {r[3]["id"] for r in results}
            self.assertEqual(len(ids), 1, f"round {round_no}: several orders for one key: {ids}")
            replayed = [r[1].get("idempotent-replayed") for r in results]
            self.assertEqual(replayed.count("true"), 9, replayed)
            self.assertEqual(self.db.scalar("SELECT count(*) FROM orders WHERE idempotency_key = ?", (key,)), 1)
            self.final(tok, ids.pop())
        time.sleep(0.3)
        self.assertEqual(self.db.stock(p["id"]), 40 - 3 * 2)

    def test_same_key_different_body_422(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Idem reuse", stock=50)
        q = self.product(name="Idem reuse other", stock=50)
        key = self.new_key("reuse")
        first = self.place(tok, [(p["id"], 1)], key)[3]
        for items in ([(p["id"], 2)], [(q["id"], 1)], [(p["id"], 1), (q["id"], 1)]):
            with self.subTest(items=items):
                resp = post_order(self.server, tok, items, key)
                self.assertProblem(resp, 422, "idempotency-key-reuse")
        self.assertEqual(self.db.scalar("SELECT count(*) FROM orders WHERE idempotency_key = ?", (key,)), 1)
        self.final(tok, first["id"])
        self.assertEqual(self.db.stock(p["id"]), 49)
        self.assertEqual(self.db.stock(q["id"]), 50)

    def test_key_is_per_user(self):
        a = self.server.create_user()["access"]
        b = self.server.create_user()["access"]
        p = self.product(name="Idem per user", stock=10)
        key = self.new_key("shared")
        oa = self.place(a, [(p["id"], 1)], key)[3]
        ob = self.place(b, [(p["id"], 1)], key)[3]
        self.assertNotEqual(oa["id"], ob["id"])
        self.assertEqual(self.db.scalar("SELECT count(*) FROM orders WHERE idempotency_key = ?", (key,)), 2)
        self.final(a, oa["id"])
        self.final(b, ob["id"])
        self.assertEqual(self.db.stock(p["id"]), 8)


class NoOversellingTest(OrdersTestBase):
    def test_50_buyers_stock_10(self):
        users = self.make_users(50)
        p = self.product(name="Hot item", stock=10, price_cents=999)
        placed = [None] * 50

        def buy(i):
            placed[i] = post_order(self.server, users[i]["access"], [(p["id"], 1)], f"hot-{i}")

        errors = run_threads(50, buy)
        self.assertFalse(errors, errors)
        for i, r in enumerate(placed):
            self.assertEqual(r[0], 202, f"user {i}: {r[0]} {r[2][:200]!r}")
        orders = [(users[i]["access"], placed[i][3]["id"]) for i in range(50)]
        self.assertEqual(len({oid for _, oid in orders}), 50)
        docs = self.wait_all_final(orders)
        statuses = [d["status"] for d in docs.values()]
        self.assertEqual(statuses.count("confirmed"), 10, statuses)
        self.assertEqual(statuses.count("rejected"), 40, statuses)
        for d in docs.values():
            if d["status"] == "rejected":
                self.assertEqual(d.get("reason"), "out_of_stock", d)
        self.assertEqual(self.db.stock(p["id"]), 0)
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM orders o JOIN order_items i ON i.order_id = o.id "
            "WHERE i.product_id = ? AND o.stock_reserved = 1", (p["id"],)), 10)


class NoOversellingTwoProcessesTest(NoOversellingTest):
    # --processes 2 on one data dir: two group-commit writers, two relays, two
    # consumers in one group and two saga workers share the SQLite file.
    server_options = dict(SHOP_OPTIONS, processes="2")


class CancelPendingTest(OrdersTestBase):
    # Slow payments keep an order pending long enough to cancel it mid-saga.
    server_options = dict(SHOP_OPTIONS, **{"payment-latency-ms": 1500})

    def test_cancel_pending_order(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Slow pay", stock=5)
        doc = self.place(tok, [(p["id"], 2)])[3]
        time.sleep(0.3)  # reservation done, payment in progress (or still queued)
        resp = self.server.request("POST", f"/v1/orders/{doc['id']}/cancel", headers=bearer(tok))
        self.assertStatus(resp, 200)
        self.assertEqual(resp[3]["status"], "cancelled")
        # After the payment step would have finished, the order is still cancelled and nothing is held.
        time.sleep(2.5)
        got = get_order(self.server, tok, doc["id"])
        self.assertEqual(got[3]["status"], "cancelled", got[3])
        self.assertEqual(self.db.stock(p["id"]), 5)
        self.assertEqual(self.db.query("SELECT status, stock_reserved FROM orders WHERE id=?", (doc["id"],)),
                         [("cancelled", 0)])
        # The charge went through after the cancellation: the money is given back, not kept.
        self.assertTrue(wait_for(lambda: get_order(self.server, tok, doc["id"])[3]["payment_status"] == "refunded",
                                 10), get_order(self.server, tok, doc["id"])[3])
        self.assertEqual(get_order(self.server, tok, doc["id"])[3]["status"], "cancelled")
        self.assertTrue(wait_for(lambda: self.db.scalar("SELECT count(*) FROM outbox") == 0, 5),
                        "outbox not drained")


class PaymentDeclineTest(OrdersTestBase):
    server_options = dict(SHOP_OPTIONS, **{"payment-decline-rate": "0.3"})

    def test_declines_release_stock(self):
        rng = random.Random(20260301)
        users = self.make_users(6)
        products = [self.product(name=f"Decline {i}", stock=1000, price_cents=100 + i) for i in range(4)]
        initial = {p["id"]: 1000 for p in products}
        plans = []
        for n in range(60):
            k = rng.randint(1, 3)
            chosen = rng.sample(products, k)
            plans.append((users[n % len(users)]["access"], [(p["id"], rng.randint(1, 3)) for p in chosen]))
        placed = [None] * len(plans)

        def worker(t):
            for n in range(t, len(plans), 10):
                tok, items = plans[n]
                placed[n] = post_order(self.server, tok, items, f"decline-{n}")

        errors = run_threads(10, worker)
        self.assertFalse(errors, errors)
        for n, r in enumerate(placed):
            self.assertEqual(r[0], 202, f"order {n}: {r[0]} {r[2][:200]!r}")
        docs = self.wait_all_final([(plans[n][0], placed[n][3]["id"]) for n in range(len(plans))])
        confirmed = [d for d in docs.values() if d["status"] == "confirmed"]
        rejected = [d for d in docs.values() if d["status"] == "rejected"]
        self.assertEqual(len(confirmed) + len(rejected), 60, [d["status"] for d in docs.values()])
        self.assertGreater(len(rejected), 0, "no payment was declined at a 30% decline rate")
        self.assertLess(len(rejected), 60)
        for d in rejected:
            self.assertEqual(d.get("reason"), "payment_declined", d)
        expected = dict(initial)
        for d in confirmed:
            for it in d["items"]:
                expected[it["product_id"]] -= it["quantity"]
        time.sleep(0.2)
        for pid, want in expected.items():
            self.assertEqual(self.db.stock(pid), want, f"product {pid}")
        self.assertEqual(self.db.scalar(
            "SELECT count(*) FROM orders WHERE status <> 'confirmed' AND stock_reserved = 1"), 0)
        self.assertEqual(self.db.query(
            "SELECT DISTINCT payment FROM orders WHERE status = 'rejected'"), [("declined",)])


def metric_value(srv, name, labels):
    """The value of one sample of /metrics, 0 when absent."""
    resp = srv.request("GET", "/metrics")
    if resp[0] != 200:
        raise AssertionError(f"/metrics -> {resp[0]}")
    wanted = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in resp[2].decode().splitlines():
        if line.startswith(wanted + " "):
            return float(line.split()[-1])
    return 0.0


# A cache TTL of an hour: only an invalidation can make a product read show the new stock.
LONG_CACHE = {"catalog-cache-ttl-ms": 3_600_000}


class StockReadsFollowOrdersTest(OrdersTestBase):
    server_options = dict(SHOP_OPTIONS, **LONG_CACHE)

    def stock_read(self, product_id):
        resp = self.server.request("GET", f"/v1/products/{product_id}")
        self.assertStatus(resp, 200)
        return resp[3]["stock"]

    def test_stock_reflects_the_reservation_once_confirmed_and_the_release_once_cancelled(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Cached stock", stock=10)
        self.assertEqual([self.stock_read(p["id"]) for _ in range(3)], [10, 10, 10])  # cached now
        doc = self.place(tok, [(p["id"], 3)])[3]
        self.assertEqual(self.final(tok, doc["id"])["status"], "confirmed")
        self.assertEqual(self.stock_read(p["id"]), 7, "a confirmed order's reservation is visible at once")

        cancel = self.server.request("POST", f"/v1/orders/{doc['id']}/cancel", headers=bearer(tok))
        self.assertStatus(cancel, 202)
        self.assertEqual(self.stock_read(p["id"]), 10, "a cancellation's release is visible at once")
        self.assertEqual(self.wait_refunded(tok, doc["id"])["payment_status"], "refunded")
        self.assertEqual(self.stock_read(p["id"]), 10)

    def test_stock_released_by_a_rejection_is_visible_once_rejected(self):
        tok = self.server.create_user()["access"]
        plenty = self.product(name="Cached plenty", stock=50)
        scarce = self.product(name="Cached scarce", stock=1)
        self.assertEqual(self.stock_read(plenty["id"]), 50)
        first = self.place(tok, [(plenty["id"], 5)])[3]
        self.assertEqual(self.final(tok, first["id"])["status"], "confirmed")
        self.assertEqual(self.stock_read(plenty["id"]), 45)
        # All or nothing: the scarce item fails, nothing of the plenty one is taken.
        second = self.place(tok, [(plenty["id"], 5), (scarce["id"], 2)])[3]
        self.assertEqual(self.final(tok, second["id"])["status"], "rejected")
        self.assertEqual((self.stock_read(plenty["id"]), self.stock_read(scarce["id"])), (45, 1))


class StockReadsAcrossProcessesTest(OrdersTestBase):
    # Two processes, each with its own product cache: a change made by one reaches the
    # other's cache through the event log (`product.changed`), long before the TTL.
    server_options = dict(SHOP_OPTIONS, processes="2", **LONG_CACHE)
    BOUND_S = 3.0

    def fresh_everywhere(self, product_id, want, reads=24):
        # Each read is a new connection; the kernel spreads them over both processes.
        return all(self.server.request("GET", f"/v1/products/{product_id}")[3]["stock"] == want
                   for _ in range(reads))

    def test_every_process_drops_its_cached_copy(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Cached twice", stock=10)
        self.assertTrue(self.fresh_everywhere(p["id"], 10, reads=40))  # both caches hold it now
        doc = self.place(tok, [(p["id"], 4)])[3]
        self.assertEqual(self.final(tok, doc["id"])["status"], "confirmed")
        started = time.monotonic()
        self.assertTrue(wait_for(lambda: self.fresh_everywhere(p["id"], 6), self.BOUND_S, interval=0.01),
                        f"a process still serves the old stock {self.BOUND_S}s after the confirmation")
        cancel = self.server.request("POST", f"/v1/orders/{doc['id']}/cancel", headers=bearer(tok))
        self.assertStatus(cancel, 202)
        self.assertTrue(wait_for(lambda: self.fresh_everywhere(p["id"], 10), self.BOUND_S, interval=0.01),
                        f"a process still serves the reserved stock {self.BOUND_S}s after the cancellation")
        self.assertLess(time.monotonic() - started, 2 * self.BOUND_S + 5)


class RefundRetryTest(OrdersTestBase):
    # The payment provider fails the first 3 refunds. One process: the simulated provider
    # and the metrics counted here are per process.
    server_options = dict(SHOP_OPTIONS, **{"payment-failing-refunds": 3, "processes": 0})

    def test_failed_refunds_are_retried_until_the_order_is_refunded(self):
        tok = self.server.create_user()["access"]
        p = self.product(name="Refund retry", stock=5)
        doc = self.place(tok, [(p["id"], 2)])[3]
        self.assertEqual(self.final(tok, doc["id"])["status"], "confirmed")
        cancel = self.server.request("POST", f"/v1/orders/{doc['id']}/cancel", headers=bearer(tok))
        self.assertStatus(cancel, 202)
        self.assertEqual((cancel[3]["status"], cancel[3]["payment_status"]), ("cancelling", "refund_pending"))
        done = self.wait_refunded(tok, doc["id"], timeout=30)
        self.assertEqual((done["status"], done["payment_status"]), ("cancelled", "refunded"))
        labels = lambda outcome: {"outcome": outcome}
        self.assertEqual(metric_value(self.server, "shopd_order_refunds_total", labels("failed")), 3)
        self.assertEqual(metric_value(self.server, "shopd_order_refunds_total", labels("refunded")), 1)
        self.assertEqual(self.db.scalar("SELECT count(*) FROM jobs WHERE queue = 'order-refund'"), 0,
                         "the refund job completed (none dead or waiting)")
        self.assertEqual(self.db.stock(p["id"]), 5)


class RefundSurvivesACrashTest(unittest.TestCase):
    def test_a_refund_pending_at_a_kill_is_done_after_the_restart(self):
        options = dict(SHOP_OPTIONS, **{"payment-failing-refunds": 1_000_000_000})
        with ShopdServer(options=options, env=ADMIN_ENV) as srv:
            admin = admin_token(srv)
            tok = srv.create_user()["access"]
            p = create_product(srv, admin, name="Refund crash", stock=5)
            doc = post_order(srv, tok, [(p["id"], 2)], "crash-refund")[3]
            self.assertEqual(wait_order_final(srv, tok, doc["id"], FINAL_WAIT_S)[3]["status"], "confirmed")
            cancel = srv.request("POST", f"/v1/orders/{doc['id']}/cancel", headers=bearer(tok))
            self.assertEqual(cancel[0], 202, cancel)
            # The refund job exists and its provider call failed at least once: kill -9 now.
            self.assertTrue(wait_for(lambda: metric_value(srv, "shopd_order_refunds_total", {"outcome": "failed"})
                                     >= 1, 10), srv.log_tail(20))
            srv.kill()
            db = ReadOnlyDb(srv.data_dir)
            self.assertEqual(db.query("SELECT status, payment FROM orders WHERE id = ?", (doc["id"],)),
                             [("cancelling", "refund_pending")])
            srv.options["payment-failing-refunds"] = "0"
            srv.start()

            def refunded():
                got = get_order(srv, tok, doc["id"])
                return got[0] == 200 and (got[3]["status"], got[3]["payment_status"]) == ("cancelled", "refunded")

            self.assertTrue(wait_for(refunded, 30, interval=0.1),
                            f"{get_order(srv, tok, doc['id'])}\n{srv.log_tail(20)}")
            self.assertEqual(db.stock(p["id"]), 5)


if __name__ == "__main__":
    unittest.main()
