"""Mutation fuzzing of every endpoint with a body or a query: thousands of malformed requests
(broken JSON, wrong types, huge and deep values, odd unicode, bad queries and path ids). Every
answer must be a 2xx or a 4xx problem document, never a 5xx, a hang or a dead server.
Seeded, so a failure names the case and repeats."""

import http.client
import json
import random
import unittest

from harness import bearer
from shop_support import ShopTestCase, create_product

SEED = 20261125
CASES_PER_ENDPOINT = 120
WEIRD_VALUES = [None, True, False, 0, -1, 1.5, -0.0, 1e308, 10**30, -(10**30), "", " ", "\u0000",
                "\ud7ff\ue000\U0001f600", "a" * 5000, "\\u0000", [], {}, [[[]]], {"a": {"b": {}}},
                "9" * 400, "USD\u0000", "<script>", "' OR 1=1 --"]


def mutate_value(rng, value):
    choice = rng.random()
    if choice < 0.5:
        return rng.choice(WEIRD_VALUES)
    if isinstance(value, str) and choice < 0.75:
        return value * rng.randint(2, 300)
    if isinstance(value, int) and not isinstance(value, bool) and choice < 0.75:
        return rng.choice([value + 1, -value, value * 10**12, 2**63, 2**64, -(2**63) - 1])
    return [value] if choice < 0.9 else {"v": value}


def mutate_document(rng, doc):
    """A structural mutation of a JSON-able document."""
    doc = json.loads(json.dumps(doc))
    target = doc
    path = []
    while isinstance(target, (dict, list)) and target and rng.random() < 0.6:
        key = rng.choice(list(target)) if isinstance(target, dict) else rng.randrange(len(target))
        path.append((target, key))
        target = target[key]
    if not path:
        op = rng.random()
        if op < 0.3:
            return rng.choice(WEIRD_VALUES)
        if op < 0.6 and isinstance(doc, dict):
            doc["unexpected_" + str(rng.randint(0, 99))] = rng.choice(WEIRD_VALUES)
            return doc
        if isinstance(doc, dict) and doc:
            del doc[rng.choice(list(doc))]
        return doc
    parent, key = path[-1]
    op = rng.random()
    if op < 0.2 and isinstance(parent, dict):
        del parent[key]
    elif op < 0.3 and isinstance(parent, list):
        parent.extend([parent[key]] * rng.randint(1, 60))
    else:
        parent[key] = mutate_value(rng, parent[key])
    return doc


def mutate_bytes(rng, raw):
    raw = bytearray(raw)
    op = rng.random()
    if op < 0.25 and raw:
        del raw[rng.randrange(len(raw)):][: rng.randint(1, 8)]
    elif op < 0.5:
        at = rng.randrange(len(raw) + 1)
        raw[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
    elif op < 0.65:
        depth = rng.choice([64, 1000, 100000])
        raw = bytearray(b"[" * depth + b"]" * depth if rng.random() < 0.5 else b'{"a":' * depth + b"1" + b"}" * depth)
    elif op < 0.8:
        raw = bytearray(raw.replace(b'"', b"'", 1))
    elif op < 0.9:
        raw = bytearray(b'{"items": [' + b"{}," * 20000 + b"{}]}")
    else:
        raw = raw[: rng.randrange(len(raw) + 1)]
    return bytes(raw)


class FuzzTest(ShopTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.server.create_user()
        cls.product = create_product(cls.server, cls.admin, name="Fuzzed", stock=1000)
        cls.conn = None

    @classmethod
    def tearDownClass(cls):
        if cls.conn is not None:
            cls.conn.close()
        super().tearDownClass()

    def send(self, method, path, payload=None, token=None, headers=None):
        """One request on a kept-alive connection (reopened when the server closed it)."""
        hdrs = {"Content-Type": "application/json"} if payload is not None else {}
        if token:
            hdrs.update(bearer(token))
        hdrs.update(headers or {})
        for attempt in range(2):
            if type(self).conn is None:
                type(self).conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
            try:
                self.conn.request(method, path, body=payload, headers=hdrs)
                resp = self.conn.getresponse()
                data = resp.read()
                if (resp.getheader("Connection") or "").lower() == "close":
                    self.conn.close()
                    type(self).conn = None
                return resp.status, resp.getheader("Content-Type") or "", data
            except (ConnectionError, http.client.HTTPException, OSError):
                if self.conn is not None:
                    self.conn.close()
                type(self).conn = None
                if attempt == 1:
                    raise

    def check(self, case, status, ctype, data):
        self.assertLess(status, 500, f"{case} -> {status} {data[:300]!r}")
        if status >= 400:
            self.assertTrue(ctype.startswith("application/problem+json"), f"{case} -> {status} {ctype}")
            doc = json.loads(data)
            self.assertEqual(doc["status"], status, case)

    def fuzz_body(self, method, path, valid, token=None, headers=None, seed_offset=0):
        """Returns how often each status was answered."""
        rng = random.Random(SEED + seed_offset)
        seen = {}
        for i in range(CASES_PER_ENDPOINT):
            if rng.random() < 0.6:
                payload = json.dumps(mutate_document(rng, valid)).encode()
            else:
                payload = mutate_bytes(rng, json.dumps(valid).encode())
            hdrs = dict(headers or {})
            if "Idempotency-Key" in hdrs:
                hdrs["Idempotency-Key"] = f"fuzz-{seed_offset}-{i}"
            status, ctype, data = self.send(method, path, payload, token, hdrs)
            self.check(f"{method} {path} case {i}: {payload[:200]!r}", status, ctype, data)
            seen[status] = seen.get(status, 0) + 1
        return seen

    def test_bodies(self):
        pid = self.product["id"]
        endpoints = [
            ("POST", "/v1/auth/register", {"email": "fuzz@example.com", "password": "long enough pw", "name": "F"},
             None, None),
            ("POST", "/v1/auth/login", {"email": self.user["email"], "password": "wrong password"}, None, None),
            ("POST", "/v1/auth/refresh", {"refresh_token": "x" * 43}, None, None),
            ("POST", "/v1/auth/logout", {"refresh_token": "x" * 43}, None, None),
            ("POST", "/v1/products", {"name": "N", "description": "d", "price_cents": 100, "currency": "USD",
                                      "stock": 5}, self.admin, None),
            ("PUT", f"/v1/products/{pid}", {"name": "N", "price_cents": 100, "currency": "USD", "stock": 5},
             self.admin, None),
            ("POST", "/v1/orders", {"items": [{"product_id": pid, "quantity": 1}]}, self.user["access"],
             {"Idempotency-Key": "set per case"}),
        ]
        for n, (method, path, valid, token, headers) in enumerate(endpoints):
            with self.subTest(endpoint=f"{method} {path}"):
                seen = self.fuzz_body(method, path, valid, token, headers, seed_offset=n * 1000)
                # The mutations reach the validators (not just the parser or the auth check).
                self.assertIn(400, seen, seen)
                self.assertIn(422, seen, seen)
                print(f"{method} {path}: {dict(sorted(seen.items()))}")
        self.assertEqual(self.server.request("GET", "/health")[0], 200)

    def test_queries_paths_and_headers(self):
        rng = random.Random(SEED + 7)
        junk = ["", "0", "-1", "101", "1e3", "abc", "%00", "%zz", "%ff%fe", "9" * 100, "1;drop", "%E2%80%AE",
                "..%2F..%2F", "a" * 4000]
        tok = self.user["access"]
        for i in range(300):
            q = "&".join(f"{rng.choice(['limit', 'cursor', 'x', 'limit'])}={rng.choice(junk)}"
                         for _ in range(rng.randint(1, 4)))
            for path, token in ((f"/v1/products?{q}", None), (f"/v1/orders?{q}", tok)):
                self.check(f"GET {path}", *self.send("GET", path, token=token))
            ident = rng.choice(junk + [self.product["id"].upper(), "00000000-0000-0000-0000-000000000000"])
            for method, path in (("GET", f"/v1/products/{ident}"), ("GET", f"/v1/orders/{ident}"),
                                 ("POST", f"/v1/orders/{ident}/cancel"), ("GET", f"/v1/users/{ident}")):
                self.check(f"{method} {path}", *self.send(method, path, token=tok))
        for value in ["Bearer", "Bearer ", "Bearer a.b.c", "Bearer " + "a" * 8000, "Basic Zm9vOmJhcg==",
                      "bearer " + tok, "Bearer " + tok[:-1], "Bearer " + tok + "x", "Bearer \x7f"]:
            self.check(f"Authorization {value[:40]!r}",
                       *self.send("GET", "/v1/users/me", headers={"Authorization": value}))
        for ctype in ["text/plain", "application/jsonx", "application/json; charset=latin-1", "", "multipart/form-data"]:
            status, got, data = self.send("POST", "/v1/auth/login", b'{"email":"a@b.c","password":"12345678"}',
                                          headers={"Content-Type": ctype})
            self.check(f"Content-Type {ctype!r}", status, got, data)
        self.assertEqual(self.server.request("GET", "/health")[0], 200)


if __name__ == "__main__":
    unittest.main()
