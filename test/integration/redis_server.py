"""A throwaway redis-server for the scale-out runs of the integration suite.

One server per test process, started on first use on a free loopback port in a
temporary directory, without persistence, and stopped by its PID at exit. Each
shopd gets a database number of its own (redis://127.0.0.1:PORT/N), so the
cached products and the rate-limit counts of one test never meet another's.
"""
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import shared

_databases = itertools.count(1)
DATABASES = 16  # redis-server's default


class RedisServer:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="shopd-it-redis-")
        self.port = None
        self.proc = None

    def start(self):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed: run scripts/install_deps.sh test")
        for _ in range(3):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
            self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                          "--appendonly", "no", "--dir", self.tmp],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.time() + 10
            while time.time() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as c:
                        c.sendall(b"PING\r\n")
                        if c.recv(16).startswith(b"+PONG"):
                            return self
                except OSError:
                    time.sleep(0.05)
            self.stop_process()
        raise RuntimeError("redis-server did not start")

    def stop_process(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self):
        self.stop_process()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fresh_url(self):
        """The next database number, emptied first (numbers wrap after 15, and a
        server left over from an earlier test must not lend its counts)."""
        db = next(_databases) % DATABASES
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as c:
            c.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
            reply = b""
            while reply.count(b"\r\n") < 2:
                chunk = c.recv(64)
                if not chunk:
                    break
                reply += chunk
            if reply != b"+OK\r\n+OK\r\n":
                raise RuntimeError(f"redis: SELECT/FLUSHDB answered {reply!r}")
        return f"redis://127.0.0.1:{self.port}/{db}"


def shared_server():
    """The server of this test process, started on first use, stopped at exit."""
    return shared.one_per_process(RedisServer)
