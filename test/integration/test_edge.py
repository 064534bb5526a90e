"""The server's edge: the admin listener, /ready's cache, client addresses behind trusted
proxies, connection caps, the request-body budget and per-route body limits."""

import http.client
import re
import time
import unittest

from harness import (PROBLEM_BASE, ShopdServer, ShopdTestCase, free_port, unique_email)


def metric_values(body, name):
    """{labels-text: value} of every sample of metric `name` in a Prometheus text body."""
    text = body.decode() if isinstance(body, bytes) else body
    out = {}
    for line in text.splitlines():
        m = re.match(r"^" + re.escape(name) + r"(\{[^}]*\})?\s+(\S+)$", line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


def metric(body, name, labels=""):
    return metric_values(body, name).get(labels, 0.0)


class AdminListenerTest(ShopdTestCase):
    admin_port = free_port()
    server_options = {"admin-listen": f"127.0.0.1:{admin_port}"}

    def admin_get(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=10)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def test_metrics_only_on_the_admin_listener(self):
        self.assertProblem(self.server.request("GET", "/metrics"), 404, "not-found")
        st, headers, body = self.admin_get("/metrics")
        self.assertEqual(st, 200, body[:300])
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"), headers)
        self.assertIn(b"shopd_http_requests_total", body)
        # The public listener's traffic is what the admin listener reports.
        self.assertGreater(metric(body, "shopd_http_requests_total",
                                  '{method="GET",route="/health",status="200"}'), 0)

    def test_health_and_ready_stay_public(self):
        self.assertStatus(self.server.request("GET", "/health"), 200)
        self.assertStatus(self.server.request("GET", "/ready"), 200)
        self.assertEqual(self.admin_get("/health")[0], 404)

    def test_ready_checks_the_database_at_most_once_a_second(self):
        def checks():
            return metric(self.admin_get("/metrics")[2], "shopd_ready_checks_total")
        before = checks()
        start = time.monotonic()
        for _ in range(100):
            self.assertStatus(self.server.request("GET", "/ready"), 200)
        elapsed = time.monotonic() - start
        after = checks()
        ran = after - before
        self.assertGreaterEqual(after, 1)
        # One check per started second at most, whatever the request rate (the one before
        # may still be fresh: then none ran).
        self.assertLessEqual(ran, int(elapsed) + 1, f"{ran} checks for 100 /ready in {elapsed:.2f}s")


class AdminListenerConfigTest(unittest.TestCase):
    def test_sigterm_stops_both_listeners(self):
        admin_port = free_port()
        with ShopdServer(options={"admin-listen": f"127.0.0.1:{admin_port}"}) as srv:
            conn = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=10)
            conn.request("GET", "/metrics")
            self.assertEqual(conn.getresponse().status, 200)
            conn.close()
            self.assertEqual(srv.stop(), 0, srv.log_tail())


    def test_admin_listen_on_the_public_address_is_refused(self):
        srv = ShopdServer(options={"admin-listen": "127.0.0.1:1"})
        srv.port = free_port()
        srv.options["admin-listen"] = f"127.0.0.1:{srv.port}"
        try:
            srv._launch()
            self.assertEqual(srv.wait(10), 2, srv.log_tail())
            self.assertIn("admin-listen", srv.stderr_text())
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main()
