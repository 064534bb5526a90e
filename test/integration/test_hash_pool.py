"""Password hashing has its own bounded pool: under a flood of logins and registrations the
reads keep answering at once, and work past the pool's capacity is refused with 503 at once."""

import http.client
import collections
import json
import threading
import time
import unittest
import uuid

from harness import bearer
from shop_support import SHOP_OPTIONS, ShopTestCase, create_product
from test_login_abuse import metric, request_from

READ_BOUND_S = 1.0       # generous: a read on an idle server takes about a millisecond
QUEUE_WAIT_MS = 300      # --hash-queue-wait-ms of the test server
AT_ONCE_S = 0.25         # generous: a 503 from a full queue waits for no hash
# A hash that waited too long is refused too; the margin is for a shared CI machine, where the
# 32 client threads and the tests running beside this one add seconds of scheduling noise. An
# unbounded queue (what this guards against) makes clients wait 10 s and more.
REFUSAL_BOUND_S = QUEUE_WAIT_MS / 1000 + 3.0


class Flood:
    """`threads` clients sending `make_request(i, n)` in a loop from addresses 127.0.0.10 and up,
    until stopped; records (status, seconds, Retry-After) of every answer."""

    def __init__(self, srv, threads, make_request):
        self.srv = srv
        self.make_request = make_request
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, i):
        n = 0
        while not self.stop.is_set():
            n += 1
            ip = f"127.0.{1 + (i * 7 + n) % 200}.{10 + i}"
            path, body = self.make_request(i, n)
            t0 = time.monotonic()
            try:
                st, headers, _, _ = request_from(self.srv, ip, "POST", path, body=body, timeout=30)
            except (OSError, http.client.HTTPException) as e:
                st, headers = repr(e), {}
            with self.lock:
                self.answers.append((st, time.monotonic() - t0, headers.get("retry-after")))
            if st == 503:
                time.sleep(0.01)  # a real client would back off; do not spin the test's own CPU

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        return False

    def statuses(self):
        with self.lock:
            return [a[0] for a in self.answers]


class HashPoolTest(ShopTestCase):
    # Costly hashes (about 0.1 s each), short cache lifetimes so the reads need the database
    # now and then, and limits high enough for the flood.
    server_options = dict(SHOP_OPTIONS, **{
        "argon2-memory-kib": 65536, "argon2-iterations": 2,
        "catalog-cache-ttl-ms": 50, "user-cache-ttl-s": 1, "hash-queue-wait-ms": QUEUE_WAIT_MS,
        "login-failures-per-account-ip": 100000, "registrations-per-ip": 100000})

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.server.create_user()
        cls.product = create_product(cls.server, cls.admin, stock=5)

    def timed_reads(self, seconds):
        """GET /v1/users/me and /v1/products/{id} in turn for `seconds`; returns the slowest."""
        slowest = 0.0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for path, headers in (("/v1/users/me", bearer(self.user["access"])),
                                  (f"/v1/products/{self.product['id']}", None)):
                t0 = time.monotonic()
                st, _, body, _ = self.server.request("GET", path, headers=headers, timeout=30)
                took = time.monotonic() - t0
                self.assertEqual(st, 200, f"{path}: {body[:300]!r}")
                self.assertLess(took, READ_BOUND_S, f"{path} took {took:.3f}s during the flood")
                slowest = max(slowest, took)
            time.sleep(0.02)
        return slowest

    def assertRefusedAtOnce(self, flood):
        refused = [a for a in flood.answers if a[0] == 503]
        self.assertTrue(refused, f"the flood never filled the hash queue: {collections.Counter(flood.statuses())}")
        for st, took, retry_after in refused:
            self.assertIsNotNone(retry_after, "503 without Retry-After")
            self.assertGreater(int(retry_after), 0)
            self.assertLess(took, REFUSAL_BOUND_S, f"a 503 took {took:.3f}s")
        # Most are refused at once (full queue); only the few admitted hashes that then
        # waited too long for a thread take up to --hash-queue-wait-ms.
        times = sorted(a[1] for a in refused)
        p90 = times[int(len(times) * 0.9)]
        self.assertLess(p90, AT_ONCE_S, f"90% of the 503s took up to {p90:.3f}s")

    def test_reads_stay_fast_during_a_login_flood(self):
        def bad_login(i, n):
            return "/v1/auth/login", {"email": f"nobody-{i}-{n}@example.com", "password": "wrong password"}

        before = metric(self.server, "shopd_password_verifications_total")
        with Flood(self.server, 32, bad_login) as flood:
            saturated = lambda: metric(self.server, "shopd_hash_pool_rejected_total") > 0
            deadline = time.monotonic() + 10
            while not saturated() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertTrue(saturated(), "the flood never filled the hash queue")
            slowest = self.timed_reads(3.0)
        statuses = flood.statuses()
        self.assertTrue(set(statuses) <= {401, 503}, collections.Counter(statuses))
        self.assertGreater(metric(self.server, "shopd_password_verifications_total") - before, 0)
        self.assertRefusedAtOnce(flood)
        print(f"\n[login flood] answers={len(statuses)} 401={statuses.count(401)} "
              f"503={statuses.count(503)} slowest read={slowest * 1000:.1f} ms")

    def test_registrations_past_capacity_are_refused_at_once(self):
        def register(i, n):
            return "/v1/auth/register", {"email": f"spike-{uuid.uuid4().hex}@example.com",
                                         "password": "spike password", "name": "Spike"}

        with Flood(self.server, 32, register) as flood:
            time.sleep(0.5)
            slowest = self.timed_reads(2.0)
        statuses = flood.statuses()
        self.assertTrue(set(statuses) <= {201, 503}, collections.Counter(statuses))
        self.assertIn(201, statuses, collections.Counter(statuses))
        self.assertRefusedAtOnce(flood)
        print(f"\n[registration spike] answers={len(statuses)} 201={statuses.count(201)} "
              f"503={statuses.count(503)} slowest read={slowest * 1000:.1f} ms")


if __name__ == "__main__":
    unittest.main()
