"""Per-user order limits over real sockets: the rate (burst, then 429 + Retry-After) and the
cap on pending orders (429 until one finishes); a retry of a placed order passes both."""

import unittest

from harness import bearer
from shop_support import SHOP_OPTIONS, ShopTestCase, create_product, post_order

# What the server is started with in these suites, apart from the limit under test.
BASE = {k: v for k, v in SHOP_OPTIONS.items()
        if k not in ("orders-per-minute", "order-burst", "max-pending-orders-per-user")}


class OrderRateTest(ShopTestCase):
    # 1 order a minute after a burst of 3: the 4th waits a minute.
    server_options = dict(BASE, **{"orders-per-minute": 1, "order-burst": 3})

    def test_burst_then_429_with_retry_after(self):
        tok = self.server.create_user()["access"]
        p = create_product(self.server, self.admin, name="Rate limited", stock=100)
        placed = [post_order(self.server, tok, [(p["id"], 1)], f"rate-{i}") for i in range(3)]
        for r in placed:
            self.assertStatus(r, 202)
        over = post_order(self.server, tok, [(p["id"], 1)], "rate-3")
        doc = self.assertProblem(over, 429, "order-rate-limited")
        retry_after = int(over[1].get("retry-after", "0"))
        self.assertTrue(50 <= retry_after <= 60, f"Retry-After {retry_after}: {doc}")

        # A retry of a placed order is answered, even over the rate.
        again = post_order(self.server, tok, [(p["id"], 1)], "rate-0")
        self.assertStatus(again, 202)
        self.assertEqual(again[3]["id"], placed[0][3]["id"])
        self.assertEqual(again[1].get("idempotent-replayed"), "true")
        # The same key with another body is still a reuse (422), not a 429.
        self.assertProblem(post_order(self.server, tok, [(p["id"], 2)], "rate-0"), 422, "idempotency-key-reuse")

        # Another user has a budget of their own.
        other = self.server.create_user()["access"]
        self.assertStatus(post_order(self.server, other, [(p["id"], 1)], "rate-0"), 202)
        mine = self.server.request("GET", "/v1/orders", headers=bearer(tok))
        self.assertEqual(len(mine[3]["items"]), 3, mine[3])


class PendingCapTest(ShopTestCase):
    # Slow payments keep orders pending; at most 2 of them per user.
    server_options = dict(BASE, **{"max-pending-orders-per-user": 2, "payment-latency-ms": 4000,
                                   "payment-timeout-ms": 20000})

    def test_cap_then_a_slot_frees_when_one_is_cancelled(self):
        tok = self.server.create_user()["access"]
        p = create_product(self.server, self.admin, name="Pending capped", stock=100)
        first = post_order(self.server, tok, [(p["id"], 1)], "cap-0")
        self.assertStatus(first, 202)
        self.assertStatus(post_order(self.server, tok, [(p["id"], 1)], "cap-1"), 202)
        over = post_order(self.server, tok, [(p["id"], 1)], "cap-2")
        self.assertProblem(over, 429, "too-many-pending-orders")
        self.assertIn("retry-after", over[1])
        # Not placed: the list holds the two orders only.
        mine = self.server.request("GET", "/v1/orders", headers=bearer(tok))
        self.assertEqual(len(mine[3]["items"]), 2, mine[3])
        # A retry of a placed order is not a new pending order.
        self.assertStatus(post_order(self.server, tok, [(p["id"], 1)], "cap-0"), 202)
        # Another user is not affected.
        other = self.server.create_user()["access"]
        self.assertStatus(post_order(self.server, other, [(p["id"], 1)], "cap-2"), 202)

        cancelled = self.server.request("POST", f"/v1/orders/{first[3]['id']}/cancel", headers=bearer(tok))
        self.assertStatus(cancelled, 200)
        self.assertStatus(post_order(self.server, tok, [(p["id"], 1)], "cap-2"), 202)
        self.assertProblem(post_order(self.server, tok, [(p["id"], 1)], "cap-3"), 429, "too-many-pending-orders")


if __name__ == "__main__":
    unittest.main()
