"""The server's edge: the admin listener, /ready's cache, client addresses behind trusted
proxies, connection caps, the request-body budget and per-route body limits."""

import http.client
import re
import time
import unittest

from harness import (PROBLEM_BASE, ShopdServer, ShopdTestCase, free_port, raw_connect,
                     recv_until_closed, unique_email)

# An unknown refresh token of the right shape: refused with 401 after the per-address
# limiter has counted it, without a database write.
UNKNOWN_REFRESH = "x" * 43


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


class SpoofedForwardingHeadersTest(ShopdTestCase):
    """With no trusted proxies, Forwarded / X-Forwarded-For are the client's own words."""
    server_options = {"token-requests-per-ip": 3}

    def refresh_as(self, headers):
        return self.server.request("POST", "/v1/auth/refresh", body={"refresh_token": UNKNOWN_REFRESH},
                                   headers=headers)

    def test_forged_client_addresses_share_the_peer_budget(self):
        forged = [{"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2, 10.0.0.1"},
                  {"Forwarded": "for=203.0.113.9"}]
        for h in forged:
            self.assertProblem(self.refresh_as(h), 401, "invalid-refresh-token")
        resp = self.refresh_as({"X-Forwarded-For": "192.0.2.77"})
        self.assertProblem(resp, 429, "rate-limited")
        self.assertIn("retry-after", resp[1])


class TrustedProxyTest(ShopdTestCase):
    """Behind a trusted proxy each client is limited on its own address, the right-most hop
    the proxy did not add; an IPv6 client by its /64."""
    server_options = {"token-requests-per-ip": 3, "trusted-proxies": "127.0.0.1/32"}

    def refresh_from(self, xff):
        return self.server.request("POST", "/v1/auth/refresh", body={"refresh_token": UNKNOWN_REFRESH},
                                   headers={"X-Forwarded-For": xff})

    def exhaust(self, xff):
        for _ in range(3):
            self.assertProblem(self.refresh_from(xff), 401, "invalid-refresh-token")
        self.assertProblem(self.refresh_from(xff), 429, "rate-limited")

    def test_each_client_behind_the_proxy_has_its_own_budget(self):
        self.exhaust("198.51.100.1")
        self.assertProblem(self.refresh_from("198.51.100.2"), 401, "invalid-refresh-token")
        # A client prepending a made-up hop is still keyed by the address the proxy saw.
        self.assertProblem(self.refresh_from("203.0.113.5, 198.51.100.1"), 429, "rate-limited")

    def test_ipv6_clients_share_a_budget_per_slash_64(self):
        self.exhaust("2001:db8:1:2::1")
        self.assertProblem(self.refresh_from("2001:db8:1:2::ffff"), 429, "rate-limited")
        self.assertProblem(self.refresh_from("2001:db8:1:3::1"), 401, "invalid-refresh-token")

    def test_without_a_forwarding_header_the_proxy_itself_is_the_client(self):
        for _ in range(3):
            self.assertProblem(self.server.request("POST", "/v1/auth/refresh",
                                                   body={"refresh_token": UNKNOWN_REFRESH}),
                               401, "invalid-refresh-token")
        self.assertProblem(self.server.request("POST", "/v1/auth/refresh",
                                               body={"refresh_token": UNKNOWN_REFRESH}), 429, "rate-limited")


def open_idle_connections(port, n):
    """n connections, each of the first n-1 proven taken in by one request before the next is
    opened (reactors accept in any order, so the one over a cap must be opened last)."""
    socks = []
    for _ in range(n - 1):
        s = raw_connect(port)
        socks.append(s)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200"), "connection under the cap refused"
    socks.append(raw_connect(port))
    return socks


class ConnectionsPerAddressTest(unittest.TestCase):
    def test_the_connection_over_the_per_address_cap_is_closed(self):
        with ShopdServer(options={"max-connections-per-address": 5}) as srv:
            socks = open_idle_connections(srv.port, 6)
            try:
                data, how = recv_until_closed(socks[-1], 5)
                self.assertIn(how, ("eof", "reset"), "sixth connection was kept open")
                self.assertEqual(data, b"")
                # Closing one frees its slot.
                socks[0].close()
                time.sleep(0.2)
                self.assertEqual(srv.request("GET", "/health")[0], 200)
            finally:
                for s in socks:
                    s.close()

    def test_trusted_proxies_are_exempt(self):
        with ShopdServer(options={"max-connections-per-address": 5, "trusted-proxies": "127.0.0.0/8"}) as srv:
            socks = open_idle_connections(srv.port, 8)
            try:
                socks[-1].sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertTrue(socks[-1].recv(4096).startswith(b"HTTP/1.1 200"))
            finally:
                for s in socks:
                    s.close()


if __name__ == "__main__":
    unittest.main()
