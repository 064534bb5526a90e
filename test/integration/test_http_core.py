"""HTTP core behaviour: keep-alive, pipelining, request ids, headers, CORS, metrics, logs."""

import json
import re
import shutil
import subprocess
import time
import unittest

from harness import (ShopdTestCase, bearer, raw_connect, read_response, unique_email, wait_for)

ORIGIN = "https://shop.example"
HEX32 = re.compile(r"[0-9a-f]{32}")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


class HttpCoreTest(ShopdTestCase):
    server_options = {"cors-origins": ORIGIN, "registrations-per-ip": 1000}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.user = cls.server.create_user(unique_email("core"))

    # -- API description ---------------------------------------------------------
    def test_openapi_document_is_served_and_describes_the_api(self):
        st, headers, _, doc = self.server.request("GET", "/v1/openapi.json")
        self.assertEqual(st, 200)
        self.assertTrue(headers["content-type"].startswith("application/json"), headers["content-type"])
        self.assertTrue(doc["openapi"].startswith("3."))
        # The binary refuses to start when the document and the routes differ,
        # so this only spot-checks what a client generator needs most.
        for path, methods in {"/v1/orders": {"get", "post"}, "/v1/orders/{id}": {"get"},
                              "/v1/products/{id}": {"get", "put"}, "/v1/auth/login": {"post"}}.items():
            self.assertIn(path, doc["paths"])
            self.assertTrue(methods <= set(doc["paths"][path]), (path, sorted(doc["paths"][path])))
        post_order = doc["paths"]["/v1/orders"]["post"]
        self.assertIn("202", post_order["responses"])
        self.assertIn("Idempotency-Key", [p.get("name") for p in post_order.get("parameters", [])])
        self.assertIn("bearerAuth", doc["components"]["securitySchemes"])

    # -- connections -----------------------------------------------------------
    def test_keep_alive_reuses_connection(self):
        conn = self.server.connection()
        try:
            first_port = None
            for i in range(5):
                conn.request("GET", "/health" if i % 2 == 0 else "/v1/users/me",
                             headers=bearer(self.user["access"]))
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 200)
                self.assertNotEqual((resp.getheader("Connection") or "").lower(), "close")
                self.assertIsNotNone(conn.sock, "server closed a keep-alive connection")
                port = conn.sock.getsockname()[1]
                first_port = first_port or port
                self.assertEqual(port, first_port, "client had to reconnect")
        finally:
            conn.close()

    def test_connection_close_honoured(self):
        s = raw_connect(self.server.port)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            f = s.makefile("rb")
            r = read_response(f)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers.get("connection", "").lower(), "close")
            self.assertEqual(f.read(), b"", "server kept the connection open after Connection: close")
        finally:
            s.close()

    def test_pipelining_in_order(self):
        n = 10
        reqs = b"".join(
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: pipe-%d\r\n\r\n" % i for i in range(n))
        s = raw_connect(self.server.port, timeout=5)
        try:
            s.sendall(reqs)
            f = s.makefile("rb")
            for i in range(n):
                r = read_response(f)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.headers.get("x-request-id"), f"pipe-{i}", "responses out of order")
                self.assertEqual(r.json(), {"status": "ok"})
            # The connection is still usable afterwards.
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: pipe-last\r\n\r\n")
            r = read_response(f)
            self.assertEqual(r.headers.get("x-request-id"), "pipe-last")
        finally:
            s.close()

    def test_pipelining_mixed_methods(self):
        body = b'{"email":"nobody-pipe@example.com","password":"whatever1"}'
        reqs = (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: m-0\r\n\r\n"
                b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nX-Request-Id: m-1\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                b"GET /nope HTTP/1.1\r\nHost: x\r\nX-Request-Id: m-2\r\n\r\n"
                b"GET /ready HTTP/1.1\r\nHost: x\r\nX-Request-Id: m-3\r\n\r\n") % (len(body), body)
        s = raw_connect(self.server.port, timeout=5)
        try:
            s.sendall(reqs)
            f = s.makefile("rb")
            got = [read_response(f) for _ in range(4)]
            self.assertEqual([r.headers.get("x-request-id") for r in got], ["m-0", "m-1", "m-2", "m-3"])
            self.assertEqual([r.status for r in got], [200, 401, 404, 200])
        finally:
            s.close()

    # -- request ids and headers ----------------------------------------------
    def test_request_id_generated(self):
        ids = set()
        for path in ("/health", "/nope", "/v1/users/me"):
            st, headers, _, doc = self.server.request("GET", path)
            rid = headers.get("x-request-id", "")
            self.assertRegex(rid, HEX32, f"{path}: {headers}")
            self.assertEqual(len(rid), 32)
            ids.add(rid)
            if doc and "request_id" in doc:
                self.assertEqual(doc["request_id"], rid)
        self.assertEqual(len(ids), 3, "request ids are not unique")

    def test_request_id_echoed_when_valid(self):
        for rid in ("abc", "Trace-1.2:3_x", "a" * 128, "0"):
            with self.subTest(rid=rid):
                st, headers, _, _ = self.server.request("GET", "/health", headers={"X-Request-Id": rid})
                self.assertEqual(headers.get("x-request-id"), rid)
        st, headers, _, doc = self.server.request("GET", "/nope", headers={"X-Request-Id": "prob-42"})
        self.assertEqual(st, 404)
        self.assertEqual(doc["request_id"], "prob-42")

    def test_request_id_replaced_when_invalid(self):
        for rid in ("a" * 129, "has space", "semi;colon", "quote\"", "slash/x", "é"):
            with self.subTest(rid=rid):
                st, headers, _, _ = self.server.request(
                    "GET", "/health", headers={"X-Request-Id": rid.encode("utf-8").decode("latin-1")})
                self.assertEqual(st, 200)
                self.assertRegex(headers.get("x-request-id", ""), HEX32)

    def test_security_headers_everywhere(self):
        responses = {
            "health": self.server.request("GET", "/health"),
            "404": self.server.request("GET", "/nope"),
            "401": self.server.request("GET", "/v1/users/me"),
            "405": self.server.request("DELETE", "/health"),
            "422": self.server.request("POST", "/v1/auth/login", body={}),
            "metrics": self.server.request("GET", "/metrics"),
            "me": self.server.me(self.user["access"]),
        }
        for name, (st, headers, _, _) in responses.items():
            with self.subTest(response=name):
                for k, v in SECURITY_HEADERS.items():
                    self.assertEqual(headers.get(k), v, f"{name}: {headers}")
                self.assertIn("x-request-id", headers)

    def test_cache_control_no_store_on_auth_and_users(self):
        responses = {
            "login 401": self.server.login(unique_email("nobody"), "wrong password"),
            "login 200": self.server.login(self.user["email"], self.user["password"]),
            "register 201": self.server.register(unique_email("cc")),
            "register 422": self.server.request("POST", "/v1/auth/register", body={}),
            "refresh 401": self.server.refresh("nope"),
            "me 200": self.server.me(self.user["access"]),
            "me 401": self.server.request("GET", "/v1/users/me"),
            "user 200": self.server.request("GET", f"/v1/users/{self.user['id']}", headers=bearer(self.user["access"])),
        }
        for name, (st, headers, body, _) in responses.items():
            with self.subTest(response=name):
                self.assertEqual(str(st), name.split()[-1], body)
                self.assertIn("no-store", headers.get("cache-control", "").lower(), headers)

    def test_health_and_ready(self):
        st, headers, _, doc = self.server.request("GET", "/health")
        self.assertEqual((st, doc), (200, {"status": "ok"}))
        self.assertTrue(headers.get("content-type", "").startswith("application/json"))
        st, headers, _, doc = self.server.request("GET", "/ready")
        self.assertEqual((st, doc), (200, {"status": "ready"}))

    def test_head_health(self):
        s = raw_connect(self.server.port)
        try:
            s.sendall(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            f = s.makefile("rb")
            r = read_response(f, head=True)
            self.assertIn(r.status, (200, 405))
            r2 = read_response(f)  # the body-less HEAD answer must not swallow the next response
            self.assertEqual(r2.status, 200)
            self.assertEqual(r2.json(), {"status": "ok"})
        finally:
            s.close()

    # -- CORS ----------------------------------------------------------------
    def test_cors_allowed_origin(self):
        st, headers, _, _ = self.server.request("GET", "/health", headers={"Origin": ORIGIN})
        self.assertEqual(st, 200)
        self.assertEqual(headers.get("access-control-allow-origin"), ORIGIN)
        self.assertIn("origin", [v.strip().lower() for v in headers.get("vary", "").split(",")])

    def test_cors_other_origin_not_echoed(self):
        for origin in ("https://evil.example", "https://shop.example.evil.com", "http://shop.example", "null"):
            with self.subTest(origin=origin):
                st, headers, _, _ = self.server.request("GET", "/health", headers={"Origin": origin})
                self.assertEqual(st, 200)
                acao = headers.get("access-control-allow-origin")
                self.assertNotIn(acao, (origin, "*"), headers)

    def test_cors_preflight(self):
        st, headers, body, _ = self.server.request("OPTIONS", "/v1/auth/login", headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        })
        self.assertEqual(st, 204, body)
        self.assertEqual(headers.get("access-control-allow-origin"), ORIGIN)
        methods = {m.strip().upper() for m in headers.get("access-control-allow-methods", "").split(",")}
        self.assertIn("POST", methods, headers)
        self.assertIn("origin", [v.strip().lower() for v in headers.get("vary", "").split(",")])

    def test_cors_preflight_allows_requested_headers(self):
        st, headers, _, _ = self.server.request("OPTIONS", "/v1/users/me", headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        })
        self.assertEqual(st, 204)
        self.assertIn("authorization", headers.get("access-control-allow-headers", "").lower(), headers)

    def test_cors_preflight_other_origin(self):
        st, headers, _, _ = self.server.request("OPTIONS", "/v1/auth/login", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        self.assertLess(st, 500)
        self.assertNotIn(headers.get("access-control-allow-origin"), ("https://evil.example", "*"))

    # -- metrics ---------------------------------------------------------------
    def test_metrics(self):
        # Traffic first, so that the route-labelled series exist.
        self.server.request("GET", f"/v1/users/{self.user['id']}", headers=bearer(self.user["access"]))
        self.server.request("GET", "/nope")
        self.server.request("GET", "/health")
        st, headers, body, _ = self.server.request("GET", "/metrics")
        self.assertEqual(st, 200)
        ctype = headers.get("content-type", "")
        self.assertTrue(ctype.startswith("text/plain"), ctype)
        self.assertIn("version=0.0.4", ctype.replace(" ", ""))
        text = body.decode()
        for name in ("shopd_http_requests_total", "shopd_http_request_duration_seconds_bucket",
                     "shopd_http_request_duration_seconds_sum", "shopd_http_request_duration_seconds_count",
                     "shopd_http_requests_in_flight", "shopd_http_connections_active",
                     "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"):
            self.assertRegex(text, rf"(?m)^{name}(\{{|\s)", f"{name} missing")
        self.assertRegex(text, r'(?m)^shopd_http_requests_total\{[^}]*route="/v1/users/\{id\}"[^}]*\}\s+\d')
        line = next(l for l in text.splitlines()
                    if l.startswith("shopd_http_requests_total{") and 'route="/v1/users/{id}"' in l)
        self.assertIn('method="GET"', line)
        self.assertIn('status="200"', line)
        # The raw id never becomes a label value (unbounded cardinality).
        self.assertNotIn(f'route="/v1/users/{self.user["id"]}"', text)
        self.assertNotIn('route="/nope"', text)
        self.assertRegex(text, r'(?m)^shopd_http_request_duration_seconds_bucket\{[^}]*le="\+Inf"')
        self.assertRegex(text, r"(?m)^process_resident_memory_bytes\s+[0-9.e+]+$")
        m = re.search(r"(?m)^process_open_fds\s+([0-9.e+]+)$", text)
        self.assertIsNotNone(m)
        self.assertGreater(float(m.group(1)), 0)

    def test_metrics_promtool(self):
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool not installed")
        self.server.request("GET", f"/v1/users/{self.user['id']}", headers=bearer(self.user["access"]))
        st, _, body, _ = self.server.request("GET", "/metrics")
        self.assertEqual(st, 200)
        res = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
        self.assertEqual(res.returncode, 0,
                         f"promtool: {res.stdout.decode()} {res.stderr.decode()}\n{body[:2000].decode()}")

    def test_metrics_counter_increments(self):
        def count():
            _, _, body, _ = self.server.request("GET", "/metrics")
            total = 0.0
            for l in body.decode().splitlines():
                if l.startswith("shopd_http_requests_total{") and 'route="/ready"' in l and 'status="200"' in l:
                    total += float(l.rsplit(" ", 1)[1])
            return total
        before = count()
        for _ in range(3):
            self.server.request("GET", "/ready")
        # The counter may be bumped just after the response is written: poll briefly.
        wait_for(lambda: count() - before >= 3, 2.0, interval=0.05)
        self.assertEqual(count() - before, 3)

    # -- access log ------------------------------------------------------------
    def test_access_log_json(self):
        rid = f"access-log-{time.monotonic_ns()}"
        self.server.request("GET", f"/v1/users/{self.user['id']}", headers=dict(
            bearer(self.user["access"]), **{"X-Request-Id": rid}))
        rec = self.server.wait_for_log(lambda r: r.get("request_id") == rid and r.get("msg") == "request", 3.0)
        self.assertTrue(rec, f"no access log line for {rid}\n{self.server.log_tail()}")
        self.assertEqual(rec["method"], "GET")
        self.assertEqual(rec["route"], "/v1/users/{id}")
        self.assertEqual(rec["target"], f"/v1/users/{self.user['id']}")
        self.assertEqual(rec["status"], 200)
        self.assertIsInstance(rec["duration_ms"], (int, float))
        self.assertGreaterEqual(rec["duration_ms"], 0)
        self.assertIn("ts", rec)
        self.assertIn("level", rec)

        rid2 = f"access-log-404-{time.monotonic_ns()}"
        self.server.request("GET", "/nope", headers={"X-Request-Id": rid2})
        rec = self.server.wait_for_log(lambda r: r.get("request_id") == rid2 and r.get("msg") == "request", 3.0)
        self.assertTrue(rec)
        self.assertEqual(rec["status"], 404)

    def test_stdout_is_json_lines(self):
        self.server.request("GET", "/health")
        lines = [l for l in self.server.stdout_text().splitlines() if l.strip()]
        self.assertTrue(lines, "no log output at all")
        # The final line may still be being written; every complete line must be JSON.
        complete = lines if self.server.stdout_text().endswith("\n") else lines[:-1]
        for line in complete:
            try:
                obj = json.loads(line)
            except ValueError:
                self.fail(f"stdout line is not JSON: {line[:300]!r}")
            self.assertIsInstance(obj, dict)
            for k in ("ts", "level", "msg"):
                self.assertIn(k, obj, line)


if __name__ == "__main__":
    unittest.main()
