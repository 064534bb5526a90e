"""Slow and idle clients are disconnected on time; other clients are served meanwhile."""

import socket
import time
import unittest

from harness import ShopdTestCase, raw_connect, read_response, recv_until_closed

FAILURE_BOUND_S = 5.0   # socket timeout: the test fails if the server never closes
EXPECTED_CLOSE_S = 2.0  # "within ~2 s" for a 300 ms header timeout


class TimeoutsTest(ShopdTestCase):
    server_options = {"header-timeout-ms": 300, "idle-timeout-ms": 500}

    def assertHealthy(self):
        st, _, body, doc = self.server.request("GET", "/health", timeout=2.0)
        self.assertEqual(st, 200, body)

    def test_half_header_block_disconnected(self):
        s = raw_connect(self.server.port, timeout=FAILURE_BOUND_S)
        try:
            start = time.monotonic()
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ")
            # Another client is served while this one stalls.
            self.assertHealthy()
            data, how = recv_until_closed(s, FAILURE_BOUND_S)
            elapsed = time.monotonic() - start
        finally:
            s.close()
        self.assertIn(how, ("eof", "reset"), f"not disconnected within {FAILURE_BOUND_S}s")
        self.assertLess(elapsed, EXPECTED_CLOSE_S, f"closed only after {elapsed:.2f}s")
        if data:  # an optional 408 answer before closing
            self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:200])

    def test_trickling_header_disconnected(self):
        """A slowloris client sending one byte every 100 ms never completes its header block
        within the header timeout: the timeout is for the whole block, not per read."""
        s = raw_connect(self.server.port, timeout=FAILURE_BOUND_S)
        request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 200
        closed_at = None
        start = time.monotonic()
        try:
            for i in range(len(request)):  # bounded: 200+ bytes, ~100 ms apart
                if time.monotonic() - start > FAILURE_BOUND_S:
                    break
                try:
                    s.sendall(request[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.monotonic()
                    break
                s.settimeout(0.1)
                try:
                    b = s.recv(4096)
                    if not b or b.startswith(b"HTTP/1.1 408"):
                        closed_at = time.monotonic()
                        break
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    closed_at = time.monotonic()
                    break
                if i == 5:
                    self.assertHealthy()
        finally:
            s.close()
        self.assertIsNotNone(closed_at, "slowloris client was never disconnected")
        self.assertLess(closed_at - start, EXPECTED_CLOSE_S)

    def test_idle_keep_alive_closed(self):
        s = raw_connect(self.server.port, timeout=FAILURE_BOUND_S)
        try:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            f = s.makefile("rb")
            r = read_response(f)
            self.assertEqual(r.status, 200)
            idle_from = time.monotonic()
            self.assertHealthy()  # other clients are served while this one idles
            data, how = recv_until_closed(s, FAILURE_BOUND_S)
            elapsed = time.monotonic() - idle_from
        finally:
            s.close()
        self.assertIn(how, ("eof", "reset"), f"idle connection still open after {FAILURE_BOUND_S}s")
        self.assertEqual(data, b"", "unexpected bytes on an idle connection")
        self.assertGreaterEqual(elapsed, 0.2, f"idle connection closed too early ({elapsed:.3f}s)")
        self.assertLess(elapsed, EXPECTED_CLOSE_S, f"idle connection closed after {elapsed:.2f}s")

    def test_keep_alive_within_idle_timeout_survives(self):
        s = raw_connect(self.server.port, timeout=FAILURE_BOUND_S)
        try:
            f = s.makefile("rb")
            for i in range(4):
                s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                r = read_response(f)
                self.assertEqual(r.status, 200)
                # Each pause is under the idle timeout (500 ms); together they exceed it.
                time.sleep(0.2)
        finally:
            s.close()

    def test_many_stalled_clients_do_not_block_others(self):
        socks = []
        try:
            for _ in range(20):
                s = raw_connect(self.server.port, timeout=FAILURE_BOUND_S)
                s.sendall(b"GET /health HTTP/1.1\r\n")
                socks.append(s)
            for _ in range(5):
                self.assertHealthy()
            start = time.monotonic()
            for s in socks:
                remaining = max(0.1, FAILURE_BOUND_S - (time.monotonic() - start))
                _, how = recv_until_closed(s, remaining)
                self.assertIn(how, ("eof", "reset"))
            self.assertLess(time.monotonic() - start, EXPECTED_CLOSE_S + 1)
        finally:
            for s in socks:
                s.close()
        self.assertHealthy()


class BodyTimeoutTest(ShopdTestCase):
    server_options = {"body-timeout-ms": 300}

    def test_stalled_body_disconnected(self):
        s = raw_connect(self.server.port, timeout=FAILURE_BOUND_S)
        try:
            start = time.monotonic()
            s.sendall(b"POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
            st, _, body, _ = self.server.request("GET", "/health", timeout=2.0)
            self.assertEqual(st, 200, body)
            data, how = recv_until_closed(s, FAILURE_BOUND_S)
            elapsed = time.monotonic() - start
        finally:
            s.close()
        self.assertIn(how, ("eof", "reset"), f"not disconnected within {FAILURE_BOUND_S}s")
        self.assertLess(elapsed, EXPECTED_CLOSE_S, f"closed only after {elapsed:.2f}s")
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 408"), data[:200])


if __name__ == "__main__":
    unittest.main()
