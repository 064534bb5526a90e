"""Bad input of every kind gets a clear 4xx problem document: never a crash, hang or 500."""

import json
import time
import unittest
import uuid

from harness import (DEFAULT_PASSWORD, ConcurrentExchange, ShopdTestCase, bearer, decode_jwt,
                     forge_jwt, none_jwt, unique_email)

REGISTER = "/v1/auth/register"
MAX_BODY = 1024 * 1024
# The server-wide body limit is tested on a route without a lower one of its own
# (/v1/auth/* takes at most 16 KiB; test_edge covers that).
ORDERS = "/v1/orders"


class BadInputTest(ShopdTestCase):
    server_options = {"registrations-per-ip": 1000, "login-failures-per-ip": 1000}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.server.create_user(unique_email("bad-input"))

    def post_register(self, raw=None, body=None, headers=None):
        return self.server.request("POST", REGISTER, body=body, raw_body=raw, headers=headers)

    def valid_body(self, **over):
        body = {"email": unique_email("bi"), "password": DEFAULT_PASSWORD, "name": "Bad Input"}
        body.update(over)
        return body

    # -- JSON shape ----------------------------------------------------------
    def test_malformed_json_400(self):
        for raw in (b'{"email":', b"{not json}", b'{"email": "a@b.c",}', b"", b"   ", b'{"a":1}}'):
            with self.subTest(raw=raw):
                self.assertProblem(self.post_register(raw=raw), 400, "malformed-json")

    def test_non_object_body_422(self):
        for raw in (b"[1,2,3]", b"42", b'"string"', b"null", b"true", b"[]"):
            with self.subTest(raw=raw):
                self.assertValidationError(self.post_register(raw=raw))

    def test_wrong_types_422_with_fields(self):
        cases = [
            (self.valid_body(email=12345), ["email"]),
            (self.valid_body(password=None), ["password"]),
            (self.valid_body(password=12345678), ["password"]),
            (self.valid_body(name=["x"]), ["name"]),
            (self.valid_body(email={"x": 1}, name=True), ["email", "name"]),
        ]
        for body, fields in cases:
            with self.subTest(body=body):
                self.assertValidationError(self.post_register(body=body), fields)

    def test_missing_fields_each_listed(self):
        self.assertValidationError(self.post_register(body={}), ["email", "password", "name"])
        self.assertValidationError(self.post_register(body={"email": unique_email()}), ["password", "name"])
        self.assertValidationError(
            self.server.request("POST", "/v1/auth/login", body={}), ["email", "password"])
        self.assertValidationError(
            self.server.request("POST", "/v1/auth/refresh", body={}), ["refresh_token"])

    def test_unknown_field_422(self):
        self.assertValidationError(self.post_register(body=self.valid_body(role="admin")), ["role"])
        self.assertValidationError(
            self.server.request("POST", "/v1/auth/login",
                                body={"email": self.user["email"], "password": DEFAULT_PASSWORD, "x": 1}),
            ["x"])

    def test_bad_values_422(self):
        cases = [
            (self.valid_body(password="a" * 7), ["password"]),
            (self.valid_body(password="a" * 129), ["password"]),
            (self.valid_body(email="no-at-sign.example.com"), ["email"]),
            (self.valid_body(email="two@@example.com"), ["email"]),
            (self.valid_body(email="a" * 250 + "@x.io"), ["email"]),
            (self.valid_body(name=""), ["name"]),
            (self.valid_body(name="   "), ["name"]),
            (self.valid_body(name="n" * 201), ["name"]),
            (self.valid_body(name="é" * 201), ["name"]),
            (self.valid_body(name="\U0001F600" * 201), ["name"]),
        ]
        for body, fields in cases:
            with self.subTest(body={k: (v[:20] if isinstance(v, str) else v) for k, v in body.items()}):
                self.assertValidationError(self.post_register(body=body), fields)

    def test_boundary_values_accepted(self):
        for pw in ("b" * 8, "c" * 128, "é" * 8):
            with self.subTest(pw_len=len(pw)):
                st, _, body, _ = self.post_register(body=self.valid_body(password=pw))
                self.assertEqual(st, 201, body)
        # 200 characters, counted as Unicode code points (the é and emoji names are 400 and 800 bytes).
        for name in ("n" * 200, "é" * 200, "\U0001F600" * 200):
            with self.subTest(name=name[:3]):
                st, _, body, doc = self.post_register(body=self.valid_body(name=name))
                self.assertEqual(st, 201, body)
                self.assertEqual(doc["name"], name)

    def test_password_length_counts_characters(self):
        # 7 characters that are 14 bytes in UTF-8 are still too short.
        self.assertValidationError(self.post_register(body=self.valid_body(password="é" * 7)), ["password"])

    def test_content_type_415(self):
        body = json.dumps(self.valid_body()).encode()
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/xml", None):
            with self.subTest(ctype=ctype):
                self.assertProblem(self.post_register(raw=body, headers={"Content-Type": ctype}),
                                   415, "unsupported-media-type")

    def test_content_type_with_charset_accepted(self):
        body = json.dumps(self.valid_body()).encode()
        st, _, resp, _ = self.post_register(raw=body, headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(st, 201, resp)

    def test_invalid_utf8_is_4xx(self):
        for raw in (b'{"email":"\xff\xfe@example.com","password":"password123","name":"n"}',
                    b'{"email":"a@example.com","password":"pass\xc3word1","name":"n"}',
                    b'{"email":"a@example.com","password":"password123","name":"\xed\xa0\x80"}'):
            with self.subTest(raw=raw):
                resp = self.post_register(raw=raw)
                self.assertIn(resp[0], (400, 422), resp[2])
                slug = "malformed-json" if resp[0] == 400 else "validation-error"
                self.assertProblem(resp, resp[0], slug)

    # -- bearer tokens -------------------------------------------------------
    def test_bearer_token_rejections(self):
        _, claims = decode_jwt(self.user["access"])
        now = int(time.time())
        sub = claims["sub"]
        if isinstance(sub, int):
            ghost = sub + 10 ** 9
        elif isinstance(sub, str) and sub.isdigit():
            ghost = str(int(sub) + 10 ** 9)
        elif isinstance(sub, str) and len(sub) == 36 and sub.count("-") == 4:
            ghost = str(uuid.uuid4())
        else:
            ghost = "f" * len(str(sub)) if str(sub) != "f" * len(str(sub)) else "e" * len(str(sub))
        fresh = dict(claims, iat=now, exp=now + 600, jti=uuid.uuid4().hex)
        cases = {
            "missing": {},
            "garbage": {"Authorization": "Bearer garbage"},
            "empty bearer": {"Authorization": "Bearer "},
            "wrong scheme": {"Authorization": f"Basic {self.user['access']}"},
            "no scheme": {"Authorization": self.user["access"]},
            "alg none": bearer(none_jwt(fresh)),
            "alg None": bearer(none_jwt(fresh, "None")),
            "alg NONE": bearer(none_jwt(fresh, "NONE")),
            "alg none with signature": bearer(forge_jwt(fresh, header={"alg": "none", "typ": "JWT"})),
            "HS512 labelled": bearer(forge_jwt(fresh, alg="HS512")),
            "HS512 label, HS256 signature": bearer(forge_jwt(fresh, alg="HS256", header={"alg": "HS512", "typ": "JWT"})),
            "wrong signature": bearer(forge_jwt(fresh, secret="wrong-secret")),
            "truncated signature": bearer(self.user["access"][:-4]),
            "expired": bearer(forge_jwt(dict(fresh, iat=now - 3600, exp=now - 1800))),
            "no exp": bearer(forge_jwt({k: v for k, v in fresh.items() if k != "exp"})),
            "non-existing user": bearer(forge_jwt(dict(fresh, sub=ghost))),
            "two segments": bearer(".".join(self.user["access"].split(".")[:2])),
        }
        for name, headers in cases.items():
            with self.subTest(case=name):
                self.assertUnauthorized(self.server.request("GET", "/v1/users/me", headers=headers))
        # Control: a correctly forged token with the test secret is accepted (proves the
        # rejections above are about the defect, not about forging in general).
        st, _, body, _ = self.server.request("GET", "/v1/users/me", headers=bearer(forge_jwt(fresh)))
        self.assertEqual(st, 200, body)

    # -- size limits ---------------------------------------------------------
    def test_content_length_too_large_413(self):
        ex = ConcurrentExchange(self.server.port)
        ex.send((f"POST {ORDERS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {2 * MAX_BODY}\r\n\r\n").encode())
        # No body bytes: the size is known from the header alone, so the server must answer
        # now rather than wait for 2 MiB that will never come.
        responses, how = ex.finish()
        self.assertEqual(len(responses), 1, f"{how}: {ex.data[:300]!r}")
        r = responses[0]
        self.assertProblem((r.status, r.headers, r.body, r.json()), 413, "payload-too-large")
        self.assertIn(how, ("eof", "reset"), "connection not closed after 413")
        self.assertEqual(r.headers.get("connection", "").lower(), "close")

    def test_chunked_body_growing_past_limit_413(self):
        ex = ConcurrentExchange(self.server.port)
        ex.send((f"POST {ORDERS} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n").encode())
        chunk = b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n"
        sent = 0
        for _ in range(64):  # at most 4 MiB, stop as soon as the server answers
            if ex.got_data.is_set() or not ex.send(chunk):
                break
            sent += 65536
        if not ex.got_data.is_set():
            ex.send(b"0\r\n\r\n")
        responses, how = ex.finish()
        self.assertGreater(sent, MAX_BODY - 65536)
        self.assertLessEqual(sent, 4 * MAX_BODY, "server read 4 MiB without answering")
        self.assertGreaterEqual(len(responses), 1, f"{how}: {ex.data[:300]!r}")
        r = responses[0]
        self.assertProblem((r.status, r.headers, r.body, r.json()), 413, "payload-too-large")
        self.assertIn(how, ("eof", "reset"), "connection not closed after 413")

    def test_body_just_under_limit_is_not_413(self):
        body = b'{"items":[],"note":"' + b"n" * (MAX_BODY - 200) + b'"}'
        self.assertLessEqual(len(body), MAX_BODY)
        st, _, resp, doc = self.server.request("POST", ORDERS, raw_body=body,
                                               headers={**bearer(self.user["access"]),
                                                        "Content-Type": "application/json"})
        self.assertEqual(st, 422, resp[:300])  # no items, but the body size is fine

    def test_header_block_too_large_431(self):
        ex = ConcurrentExchange(self.server.port)
        ex.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (20 * 1024) + b"\r\n\r\n")
        responses, how = ex.finish()
        self.assertEqual(len(responses), 1, f"{how}: {ex.data[:300]!r}")
        r = responses[0]
        self.assertProblem((r.status, r.headers, r.body, r.json()), 431, "header-too-large")
        self.assertIn(how, ("eof", "reset"), "connection not closed after 431")

    def test_many_headers_too_large_431(self):
        ex = ConcurrentExchange(self.server.port)
        lines = b"".join(b"X-H-%d: %s\r\n" % (i, b"v" * 100) for i in range(200))
        ex.send(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + lines + b"\r\n")
        responses, how = ex.finish()
        self.assertEqual(len(responses), 1, f"{how}: {ex.data[:300]!r}")
        r = responses[0]
        self.assertProblem((r.status, r.headers, r.body, r.json()), 431, "header-too-large")

    def test_header_block_under_limit_ok(self):
        st, _, body, _ = self.server.request("GET", "/health", headers={"X-Big": "a" * (12 * 1024)})
        self.assertEqual(st, 200, body)

    # -- routing -------------------------------------------------------------
    def test_unknown_route_404(self):
        for method, path in (("GET", "/nope"), ("GET", "/v1/nope"), ("POST", "/v1/auth/nope"),
                             ("GET", "/v1/users/me/extra"), ("GET", "/v2/users/me")):
            with self.subTest(path=path):
                self.assertProblem(self.server.request(method, path, headers=bearer(self.user["access"])),
                                   404, "not-found")

    def test_wrong_method_405_with_allow(self):
        cases = [
            ("GET", REGISTER, {"POST"}),
            ("DELETE", REGISTER, {"POST"}),
            ("PUT", "/v1/auth/login", {"POST"}),
            ("POST", "/health", {"GET"}),
            ("DELETE", "/v1/users/me", {"GET"}),
            ("PATCH", f"/v1/users/{self.user['id']}", {"GET"}),
        ]
        for method, path, expected in cases:
            with self.subTest(method=method, path=path):
                resp = self.server.request(method, path, headers=bearer(self.user["access"]))
                self.assertProblem(resp, 405, "method-not-allowed")
                allow = {m.strip().upper() for m in resp[1].get("allow", "").split(",") if m.strip()}
                self.assertTrue(expected <= allow, f"Allow: {resp[1].get('allow')!r}")
                self.assertNotIn(method, allow)

    # -- query strings -------------------------------------------------------
    def test_malformed_query_400_on_every_route(self):
        tok = bearer(self.user["access"])
        bad = ("limit=1&cursor=%%%garbage", "cursor=%zz", "limit=%4", "x=a b".replace(" ", "%20") + "%",
               "q={x}", 'q="x"', "q=a|b")
        for path in ("/health", "/ready", "/v1/users/me", "/v1/products", "/v1/orders",
                     f"/v1/users/{self.user['id']}", REGISTER):
            method = "POST" if path == REGISTER else "GET"
            for q in bad:
                with self.subTest(path=path, query=q):
                    self.assertProblem(self.server.request(method, f"{path}?{q}", headers=tok, body={}),
                                       400, "malformed-query")
        # Well-formed queries are still fine, and the parameters still decode.
        self.assertStatus(self.server.request("GET", "/v1/products?limit=%32", headers=tok), 200)
        self.assertStatus(self.server.request("GET", "/health?x=%41&y=a%2Fb&z", headers=tok), 200)

    def test_zz_server_still_healthy(self):
        # Named to run last in this class: everything above must not have hurt the server.
        st, _, body, doc = self.server.request("GET", "/health")
        self.assertEqual(st, 200)
        self.assertEqual(doc, {"status": "ok"})
        st, _, _, doc = self.server.request("GET", "/ready")
        self.assertEqual(st, 200)
        self.assertStatus(self.server.me(self.user["access"]), 200)
        self.assertTrue(self.server.alive())


class NameBoundBeforeAnyWorkTest(ShopdTestCase):
    """A name over 200 characters is answered 422 before the registration limiter counts it
    (and so before any hash or database call)."""
    server_options = {"registrations-per-ip": 1}

    def test_over_long_names_do_not_use_the_registration_budget(self):
        for name in ("n" * 201, "é" * 201, "x" * (8 * 1024)):
            body = {"email": unique_email("long-name"), "password": DEFAULT_PASSWORD, "name": name}
            self.assertValidationError(self.server.request("POST", REGISTER, body=body), ["name"])
        st, _, body, _ = self.server.register(unique_email("after-long-names"), name="n" * 200)
        self.assertEqual(st, 201, body)
        # The budget of one is now spent: the limiter was live all along.
        st, _, body, _ = self.server.register(unique_email("over-budget"))
        self.assertEqual(st, 429, body)


if __name__ == "__main__":
    unittest.main()
