"""The server's edge: the admin listener, /ready's cache, client addresses behind trusted
proxies, connection caps, the request-body budget and per-route body limits."""

import http.client
import re
import time
import unittest

from harness import (PROBLEM_BASE, ShopdServer, ShopdTestCase, free_port, parse_responses,
                     raw_connect, recv_until_closed, ServerStartError, unique_email)

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
        # One process: the cap is counted per process (README, --max-connections-per-address).
        with ShopdServer(options={"max-connections-per-address": 5, "processes": 0}) as srv:
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


def answer_before_body(port, head, timeout=5):
    """Send only a request's header; return the one response read before the server closes."""
    s = raw_connect(port)
    try:
        s.sendall(head)
        data, how = recv_until_closed(s, timeout)
    finally:
        s.close()
    responses, _ = parse_responses(data)
    assert how in ("eof", "reset"), f"connection left open after {data[:200]!r}"
    assert len(responses) == 1, f"expected one response, got {data[:300]!r}"
    return responses[0]


class AuthBodyLimitTest(ShopdTestCase):
    """/v1/auth/* takes at most 16 KiB; other routes keep the server's 1 MiB."""

    def test_a_declared_length_over_16_kib_is_refused_before_the_body_is_sent(self):
        for path in ("/v1/auth/login", "/v1/auth/register", "/v1/auth/refresh"):
            head = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {16 * 1024 + 1}\r\n\r\n").encode()
            resp = answer_before_body(self.server.port, head)
            self.assertEqual(resp.status, 413, resp)
            self.assertEqual(resp.json()["type"], PROBLEM_BASE + "payload-too-large", resp)

    def test_a_chunked_auth_body_over_16_kib_is_refused(self):
        s = raw_connect(self.server.port)
        try:
            s.sendall(b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"a" * 4096
            try:
                for _ in range(6):
                    s.sendall(b"1000\r\n" + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            data, how = recv_until_closed(s, 5)
        finally:
            s.close()
        responses, _ = parse_responses(data)
        self.assertEqual(len(responses), 1, data[:300])
        self.assertEqual(responses[0].status, 413, responses[0])
        self.assertIn(how, ("eof", "reset"))

    def test_an_auth_body_under_the_limit_is_read(self):
        # 15 KiB of JSON reaches the validator (422 for the oversized email), not the limit.
        resp = self.server.request("POST", "/v1/auth/login",
                                   body={"email": "a" * (15 * 1024), "password": "x"})
        self.assertEqual(resp[0], 422, resp)

    def test_other_routes_keep_the_server_limit(self):
        # 20 KiB to /v1/orders gets past the body limit to authentication (401), not 413.
        resp = self.server.request("POST", "/v1/orders", raw_body=b"{" + b" " * (20 * 1024) + b"}",
                                   headers={"Content-Type": "application/json"})
        self.assertEqual(resp[0], 401, resp)


class BodyBudgetTest(unittest.TestCase):
    """Request bodies buffered at once share one budget; a body that does not fit is refused
    with 503 + Retry-After before it is read, and the budget comes back when bodies finish."""

    options = {"max-buffered-body-bytes": 100_000, "max-body-bytes": 90_000}

    def post_head(self, length):
        return (f"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {length}\r\n\r\n").encode()

    def test_a_body_over_the_budget_is_refused_and_the_budget_returns(self):
        with ShopdServer(options=self.options) as srv:
            holder = raw_connect(srv.port)
            try:
                # Holds 90 000 bytes of the budget while its body trickles in.
                holder.sendall(self.post_head(90_000) + b"{" + b" " * 1000)
                time.sleep(0.2)
                resp = answer_before_body(srv.port, self.post_head(20_000))
                self.assertEqual(resp.status, 503, resp)
                self.assertEqual(resp.json()["type"], PROBLEM_BASE + "server-busy", resp)
                self.assertEqual(resp.headers.get("retry-after"), "1", resp)
                # A small body still fits beside the held one.
                small = srv.request("POST", "/v1/orders", raw_body=b"{}",
                                    headers={"Content-Type": "application/json"})
                self.assertEqual(small[0], 401, small)
                # Finishing the held body returns its share: the 20 000-byte body fits now.
                holder.sendall(b" " * (90_000 - 1002) + b"}")
                holder.settimeout(5)
                self.assertTrue(holder.recv(4096).startswith(b"HTTP/1.1 401"))
            finally:
                holder.close()
            resp = srv.request("POST", "/v1/orders", raw_body=b"{" + b" " * 19_998 + b"}",
                               headers={"Content-Type": "application/json"})
            self.assertEqual(resp[0], 401, resp)

    def test_a_closed_connection_returns_its_share(self):
        with ShopdServer(options=self.options) as srv:
            holder = raw_connect(srv.port)
            holder.sendall(self.post_head(90_000) + b"{")
            time.sleep(0.2)
            self.assertEqual(answer_before_body(srv.port, self.post_head(20_000)).status, 503)
            holder.close()
            deadline = time.monotonic() + 5
            while True:
                resp = srv.request("POST", "/v1/orders", raw_body=b"{" + b" " * 19_998 + b"}",
                                   headers={"Content-Type": "application/json"})
                if resp[0] != 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(resp[0], 401, resp)

    def test_a_budget_smaller_than_the_body_limit_is_refused_at_start(self):
        srv = ShopdServer(options={"max-buffered-body-bytes": 4096, "max-body-bytes": 8192})
        try:
            with self.assertRaises(ServerStartError) as caught:
                srv.start()
        finally:
            srv.close()
        self.assertIn("max-buffered-body-bytes", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
