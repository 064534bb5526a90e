"""Integration-test harness for shopd: start a real server on a free loopback port.

Usage:
    with ShopdServer(options={"cors-origins": "https://shop.example"}) as srv:
        status, headers, body, doc = srv.request("GET", "/health")

Everything a test starts is its own: a free port on 127.0.0.1, a temporary data
directory (removed at the end), and the server process (stopped by PID; with
--processes also the process group created for it). Set SHOPD_TEST_KEEP=1 to keep
the temporary directory (logs, data) for debugging.
"""

import base64
import hashlib
import hmac
import http.client
import io
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHOPD_BIN = os.environ.get("SHOPD_BIN") or os.path.join(REPO_ROOT, "build", "shopd")

TEST_JWT_SECRET = "integration-test-secret-0123456789abcdef-not-for-production"
PROBLEM_BASE = "https://shopd.dev/problems/"
DEFAULT_PASSWORD = "correct horse battery"

# Fast password hashing for tests unless a test overrides these options. These
# parameters are below the OWASP floor that `serve` enforces, so the harness also
# sets the test-only opt-out (shopd logs a warning for it at every start).
DEFAULT_OPTIONS = {"argon2-memory-kib": "1024", "argon2-iterations": "1",
                   "insecure-fast-hashing-for-tests": "true"}

# SHOPD_TEST_TOPOLOGY=scaleout runs every shopd over PostgreSQL (pg_server.py):
# the same tests, the same assertions, on the other topology.
TOPOLOGY = os.environ.get("SHOPD_TEST_TOPOLOGY", "embedded")
SCALE_OUT = TOPOLOGY == "scaleout"
# Processes per shopd on the scale-out run (SHOPD_TEST_SCALEOUT_REPLICAS=2: each its own
# pools, caches and pipeline). 1 in CI: some suites read per-process metrics and caches;
# test_scale_out runs its multi-replica cases on separate replicas either way.
SCALE_OUT_REPLICAS = int(os.environ.get("SHOPD_TEST_SCALEOUT_REPLICAS", "1"))


def scale_out_database(data_dir):
    """The PostgreSQL database of the shopd whose data dir is `data_dir` (scale-out runs)."""
    return "shop_" + hashlib.sha1(os.path.abspath(data_dir).encode()).hexdigest()[:16]


def embedded_only(reason):
    """Skips a test that is about the embedded topology itself (its SQLite file, its data dir)."""
    return unittest.skipIf(SCALE_OUT, f"embedded topology only: {reason}")


START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 15.0
REQUEST_TIMEOUT_S = 10.0

_email_counter = itertools.count(1)


def unique_email(prefix="user"):
    """A fresh, deterministic email for this test process."""
    return f"{prefix}-{os.getpid()}-{next(_email_counter)}@example.com"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra=None):
    """The test process environment without any SHOPD_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPD_")}
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def wait_for(predicate, timeout, interval=0.02):
    """Poll `predicate` until it returns a truthy value or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# ---------------------------------------------------------------------------
# JWT helpers (tests forge tokens with the known test secret or a wrong one)

def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_DIGESTS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def forge_jwt(payload, secret=TEST_JWT_SECRET, alg="HS256", header=None):
    """Build a JWT. `alg` picks the signature (HS256/HS384/HS512 or 'none' for no
    signature); `header` (a dict) overrides the header verbatim, so a token can be
    labelled with one algorithm and signed with another."""
    if header is None:
        header = {"alg": alg, "typ": "JWT"}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")))
        + "."
        + b64url(json.dumps(payload, separators=(",", ":")))
    )
    if alg.lower() == "none":
        return signing_input + "."
    key = secret.encode() if isinstance(secret, str) else secret
    sig = hmac.new(key, signing_input.encode(), _DIGESTS[alg]).digest()
    return signing_input + "." + b64url(sig)


def none_jwt(payload, alg_label="none"):
    return forge_jwt(payload, alg="none", header={"alg": alg_label, "typ": "JWT"})


def decode_jwt(token):
    """(header, payload) of a JWT, without verifying it."""
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def verify_hs256(token, secret=TEST_JWT_SECRET):
    h, p, s = token.split(".")
    key = secret.encode() if isinstance(secret, str) else secret
    expected = hmac.new(key, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(expected, b64url_decode(s))


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------------------
# Process helpers

def children_pids(pid):
    """PIDs of the direct children of `pid` (all of its threads), via /proc."""
    found = set()
    task_dir = f"/proc/{pid}/task"
    try:
        tids = os.listdir(task_dir)
    except (FileNotFoundError, ProcessLookupError):
        return []
    have_children_file = False
    for tid in tids:
        try:
            with open(f"{task_dir}/{tid}/children") as f:
                have_children_file = True
                found.update(int(x) for x in f.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    if not have_children_file:  # kernel without CONFIG_PROC_CHILDREN
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                st = proc_stat(int(entry))
                if st and st["ppid"] == pid:
                    found.add(int(entry))
    # Exclude zombies (already dead, not yet reaped).
    return sorted(p for p in found if (proc_stat(p) or {}).get("state") not in (None, "Z", "X"))


def proc_stat(pid):
    """{'state', 'ppid', 'pgrp'} of a process, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rfind(")") + 2:].split()
    return {"state": rest[0], "ppid": int(rest[1]), "pgrp": int(rest[2])}


def pid_alive(pid):
    st = proc_stat(pid)
    return st is not None and st["state"] not in ("Z", "X")


def group_members(pgid):
    """Live processes whose process group is `pgid`."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st and st["pgrp"] == pgid and st["state"] not in ("Z", "X"):
                out.append(int(entry))
    return out


def run_cli(args, timeout=10, env=None, cwd=None):
    """Run the shopd binary with `args` (a short-lived command); returns CompletedProcess."""
    with tempfile.TemporaryDirectory(prefix="shopd-cli-") as tmp:
        return subprocess.run(
            [SHOPD_BIN] + list(args),
            cwd=cwd or tmp,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )


# ---------------------------------------------------------------------------
# Raw HTTP over sockets (pipelining, oversize input, timeouts)

class RawResponse:
    def __init__(self, status, reason, headers, body, header_list):
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-cased names, duplicates joined with ", "
        self.header_list = header_list
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return f"RawResponse({self.status} {self.reason}, {self.headers}, {self.body[:200]!r})"


def _merge_headers(pairs):
    out = {}
    for k, v in pairs:
        k = k.lower()
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def read_response(f, head=False):
    """Read one HTTP/1.1 response from a binary file-like object.
    Raises EOFError when the stream ends before a status line."""
    line = f.readline(65536)
    if not line:
        raise EOFError("connection closed before a status line")
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"bad status line {line!r}")
    status = int(parts[1])
    reason = parts[2] if len(parts) > 2 else ""
    pairs = []
    while True:
        h = f.readline(65536)
        if not h:
            raise EOFError("connection closed inside the header block")
        if h in (b"\r\n", b"\n"):
            break
        name, _, value = h.decode("latin-1").partition(":")
        pairs.append((name.strip(), value.strip()))
    headers = _merge_headers(pairs)
    body = b""
    if head or status in (204, 304) or 100 <= status < 200:
        pass
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = f.readline(65536)
            if not size_line:
                raise EOFError("connection closed inside a chunked body")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while f.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass
                break
            data = f.read(size)
            if len(data) != size:
                raise EOFError("connection closed inside a chunk")
            chunks.append(data)
            f.read(2)
        body = b"".join(chunks)
    elif "content-length" in headers:
        n = int(headers["content-length"])
        body = f.read(n)
        if len(body) != n:
            raise EOFError(f"body truncated: {len(body)} of {n} bytes")
    else:
        body = f.read()
    return RawResponse(status, reason, headers, body, pairs)


def parse_responses(data):
    """All complete responses in `data` (bytes) and whether bytes were left over."""
    f = io.BytesIO(data)
    out = []
    while True:
        pos = f.tell()
        try:
            out.append(read_response(f))
        except (EOFError, ValueError):
            f.seek(pos)
            return out, f.read()


def raw_connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def recv_until_closed(sock, timeout):
    """Read until the peer closes. Returns (data, how) with how in
    {'eof', 'reset', 'timeout'}."""
    sock.settimeout(timeout)
    chunks = []
    try:
        while True:
            b = sock.recv(65536)
            if not b:
                return b"".join(chunks), "eof"
            chunks.append(b)
    except (ConnectionResetError, ConnectionAbortedError):
        return b"".join(chunks), "reset"
    except socket.timeout:
        return b"".join(chunks), "timeout"


class ConcurrentExchange:
    """Send on a raw socket while a reader thread collects whatever the server answers
    (so an early response is not lost if the server resets the connection)."""

    def __init__(self, port, read_timeout=10.0):
        self.sock = raw_connect(port, timeout=read_timeout)
        self.read_timeout = read_timeout
        self.data = b""
        self.how = None
        self.got_data = threading.Event()
        self._chunks = []
        self._thread = threading.Thread(target=self._reader, daemon=True)
        self._thread.start()

    def _reader(self):
        try:
            while True:
                b = self.sock.recv(65536)
                if not b:
                    self.how = "eof"
                    return
                self._chunks.append(b)
                self.got_data.set()
        except (ConnectionResetError, ConnectionAbortedError):
            self.how = "reset"
        except socket.timeout:
            self.how = "timeout"
        except OSError:
            self.how = "error"
        finally:
            self.data = b"".join(self._chunks)
            self.got_data.set()

    def send(self, data):
        """sendall; returns False when the server has already closed/reset."""
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            return False
        except socket.timeout:
            return False

    def finish(self):
        self._thread.join(self.read_timeout + 2)
        self.sock.close()
        responses, _ = parse_responses(self.data)
        return responses, self.how


# ---------------------------------------------------------------------------
# The server

class ServerStartError(RuntimeError):
    pass


class ShopdServer:
    """Context manager running one shopd instance (`shopd serve`) for a test.

    options:     dict of --flag values (merged over DEFAULT_OPTIONS; value None drops a default)
    extra_args:  list of extra command-line arguments, appended verbatim
    env:         extra environment variables (value None removes one)
    jwt_secret:  SHOPD_JWT_SECRET value; None = leave it unset (server generates a key)
    data_dir:    use this (persistent) data directory instead of a temporary one
    processes:   convenience for options["processes"]
    listen_via_env: pass the listen address and data dir as SHOPD_LISTEN / SHOPD_DATA_DIR
                 instead of flags
    """

    def __init__(self, options=None, extra_args=(), env=None, jwt_secret=TEST_JWT_SECRET,
                 data_dir=None, processes=None, start_timeout=START_TIMEOUT_S, listen_via_env=False):
        self.options = dict(DEFAULT_OPTIONS)
        for k, v in (options or {}).items():
            if v is None:
                self.options.pop(k, None)
            else:
                self.options[k] = str(v)
        if processes is not None:
            self.options["processes"] = str(processes)
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self.jwt_secret = jwt_secret
        self.start_timeout = start_timeout
        self.listen_via_env = listen_via_env
        self._own_tmp = tempfile.mkdtemp(prefix="shopd-it-")
        self.data_dir = data_dir or os.path.join(self._own_tmp, "data")
        self.stdout_path = os.path.join(self._own_tmp, "stdout.log")
        self.stderr_path = os.path.join(self._own_tmp, "stderr.log")
        self.proc = None
        self.port = None
        self.returncode = None
        self._stdout = None
        self._stderr = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def command(self):
        cmd = [SHOPD_BIN, "serve"]
        if not self.listen_via_env:
            cmd += ["--listen", f"127.0.0.1:{self.port}", "--data-dir", self.data_dir]
        for k, v in self.options.items():
            cmd += [f"--{k}", v]
        return cmd + self.extra_args

    def environment(self):
        extra = dict(self.extra_env)
        if self.jwt_secret is not None:
            extra.setdefault("SHOPD_JWT_SECRET", self.jwt_secret)
        if self.listen_via_env:
            extra["SHOPD_LISTEN"] = f"127.0.0.1:{self.port}"
            extra["SHOPD_DATA_DIR"] = self.data_dir
        return clean_env(extra)

    def _use_postgres(self):
        """Scale-out: this server's database, named after its data dir, so a
        server started again over the same data dir finds the same data."""
        if not SCALE_OUT or "database-url" in self.options:
            return
        import pg_server
        import redis_server
        self.options["database-url"] = pg_server.shared_server().fresh_database(
            scale_out_database(self.data_dir), SHOPD_BIN)
        if "processes" not in self.options and SCALE_OUT_REPLICAS > 1:
            self.options["processes"] = str(SCALE_OUT_REPLICAS)
        if "SHOPD_REDIS_URL" not in self.extra_env:
            self.extra_env["SHOPD_REDIS_URL"] = redis_server.shared_server().fresh_url()

    def start(self):
        if not os.path.exists(SHOPD_BIN):
            raise ServerStartError(f"shopd binary not found at {SHOPD_BIN} (set SHOPD_BIN)")
        self._use_postgres()
        # The data dir is left to shopd to create (mode 0700), as in production.
        for attempt in range(3):
            self.port = free_port()
            self._launch()
            ok, why = self._wait_healthy()
            if ok:
                return self
            tail = self.log_tail()
            self._kill_now()
            if "in use" in tail.lower() and attempt < 2:
                continue  # lost the free-port race; try another port
            raise ServerStartError(f"shopd did not become healthy: {why}\n{tail}")
        raise ServerStartError("unreachable")

    def restart(self):
        """Stop (SIGTERM) and start again on the same data directory; returns the old exit code."""
        rc = self.stop()
        self.start()
        return rc

    def _launch(self):
        self._stdout = open(self.stdout_path, "ab")
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=self._own_tmp,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            start_new_session=True,
        )
        self.returncode = None

    def _wait_healthy(self):
        deadline = time.monotonic() + self.start_timeout
        last = "no answer"
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                return False, f"process exited with code {rc} before answering /health"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1.0)
                conn.request("GET", "/health")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    return True, ""
                last = f"/health answered {resp.status}"
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.05)
        return False, f"timed out after {self.start_timeout}s ({last})"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait(self, timeout):
        """Wait for exit; returns the exit code or None on timeout."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit code
        (negative = killed by that signal)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_now()
        self.returncode = self.proc.returncode
        self._reap_group()
        self._close_logs()
        return self.returncode

    def kill(self):
        """SIGKILL the server now (crash simulation; by PID, then whatever is left in its
        process group) and wait for it. Returns the exit code. `start()` may be called again
        afterwards: it runs a new process on the same data directory (and a new port)."""
        self._kill_now()
        self.returncode = self.proc.returncode if self.proc is not None else None
        return self.returncode

    def _kill_now(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        self._reap_group()
        self._close_logs()

    def _reap_group(self):
        """Kill whatever is left in the process group created for this server
        (e.g. workers orphaned by a supervisor that died)."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        if group_members(pgid):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            wait_for(lambda: not group_members(pgid), 5)

    def _close_logs(self):
        for f in (self._stdout, self._stderr):
            if f and not f.closed:
                f.close()

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        else:
            self._reap_group()
            self._close_logs()
        if os.environ.get("SHOPD_TEST_KEEP"):
            sys.stderr.write(f"\n[harness] kept {self._own_tmp}\n")
        else:
            shutil.rmtree(self._own_tmp, ignore_errors=True)

    # -- logs --------------------------------------------------------------
    def stdout_text(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=40):
        out = self.stdout_text().splitlines()[-n:]
        err = self.stderr_text().splitlines()[-n:]
        return ("--- stdout (tail) ---\n" + "\n".join(out) + "\n--- stderr (tail) ---\n" + "\n".join(err))

    def log_records(self):
        """Every stdout line parsed as JSON (lines that are not JSON objects are skipped)."""
        out = []
        for line in self.stdout_text().splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        return out

    def wait_for_log(self, predicate, timeout=3.0):
        """First JSON log record matching `predicate`, polling up to `timeout` s."""
        def find():
            for rec in self.log_records():
                if predicate(rec):
                    return rec
            return None
        return wait_for(find, timeout, interval=0.05)

    # -- HTTP --------------------------------------------------------------
    def connection(self, timeout=REQUEST_TIMEOUT_S):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, raw_body=None, timeout=REQUEST_TIMEOUT_S):
        """One request on a new connection.
        Returns (status, headers: dict lower-cased, body bytes, parsed JSON or None).
        A JSON `body` (or `raw_body` bytes) gets Content-Type: application/json unless
        `headers` names a Content-Type; a header value of None omits that header."""
        hdrs = {}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
        if raw_body is not None:
            payload = raw_body if isinstance(raw_body, bytes) else raw_body.encode()
        if payload is not None:
            hdrs["Content-Type"] = "application/json"
        for k, v in (headers or {}).items():
            for existing in [x for x in hdrs if x.lower() == k.lower()]:
                del hdrs[existing]
            if v is not None:
                hdrs[k] = v
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=payload, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            resp_headers = _merge_headers(resp.getheaders())
            return resp.status, resp_headers, data, _json_or_none(data)
        finally:
            conn.close()

    # -- API shortcuts -----------------------------------------------------
    def register(self, email, password=DEFAULT_PASSWORD, name="Test User", headers=None):
        return self.request("POST", "/v1/auth/register",
                            body={"email": email, "password": password, "name": name}, headers=headers)

    def login(self, email, password=DEFAULT_PASSWORD, headers=None):
        return self.request("POST", "/v1/auth/login", body={"email": email, "password": password}, headers=headers)

    def refresh(self, refresh_token):
        return self.request("POST", "/v1/auth/refresh", body={"refresh_token": refresh_token})

    def logout(self, refresh_token):
        return self.request("POST", "/v1/auth/logout", body={"refresh_token": refresh_token})

    def me(self, access_token):
        return self.request("GET", "/v1/users/me", headers=bearer(access_token))

    def create_user(self, email=None, password=DEFAULT_PASSWORD, name="Test User"):
        """Register + log in; returns a dict with id, email, password, name, user, access, refresh."""
        email = email or unique_email()
        st, _, _, user = self.register(email, password, name)
        if st != 201:
            raise AssertionError(f"register {email} -> {st} {user}")
        st, _, _, tokens = self.login(email, password)
        if st != 200:
            raise AssertionError(f"login {email} -> {st} {tokens}")
        return {"id": user["id"], "email": user["email"], "password": password, "name": name,
                "user": user, "access": tokens["access_token"], "refresh": tokens["refresh_token"]}


def _json_or_none(data):
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# Test-case base with contract assertions

class ShopdTestCase(unittest.TestCase):
    """Base class: `server_options` etc. configure one server per TestCase class."""

    server_options = None
    server_env = None
    server_jwt_secret = TEST_JWT_SECRET
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        srv = ShopdServer(options=cls.server_options, env=cls.server_env,
                          jwt_secret=cls.server_jwt_secret)
        # A class cleanup also runs when a subclass's setUpClass fails after this point.
        cls.addClassCleanup(srv.close)
        cls.server = srv
        srv.start()

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        cls.server = None
        if srv is not None and srv.proc is not None and not srv.alive():
            raise AssertionError(f"shopd died during the tests (exit code {srv.proc.returncode})\n"
                                 f"{srv.log_tail()}")
        super().tearDownClass()

    def tearDown(self):
        if self.server is not None and not self.server.alive():
            self.fail(f"shopd is no longer running (exit code {self.server.proc.returncode})\n"
                      f"{self.server.log_tail()}")
        super().tearDown()

    # -- assertions ------------------------------------------------------
    def assertStatus(self, resp, status, msg=None):
        st, headers, body, _ = resp
        self.assertEqual(st, status, msg or f"expected {status}, got {st}: {body[:500]!r}")

    def assertProblem(self, resp, status, slug):
        """A RFC 9457 problem document with the given status and type slug."""
        st, headers, body, doc = resp
        self.assertEqual(st, status, f"expected {status} {slug}, got {st}: {body[:500]!r}")
        ctype = headers.get("content-type", "")
        self.assertTrue(ctype.startswith("application/problem+json"),
                        f"problem Content-Type expected, got {ctype!r}")
        self.assertIsInstance(doc, dict, f"problem body is not a JSON object: {body[:500]!r}")
        self.assertEqual(doc.get("type"), PROBLEM_BASE + slug, doc)
        self.assertEqual(doc.get("status"), status, doc)
        self.assertIsInstance(doc.get("title"), str, doc)
        self.assertTrue(doc.get("title"), doc)
        self.assertIn("detail", doc)
        self.assertEqual(doc.get("request_id"), headers.get("x-request-id"), doc)
        return doc

    def assertValidationError(self, resp, fields=None):
        """422 validation-error whose errors[].field covers every name in `fields`."""
        doc = self.assertProblem(resp, 422, "validation-error")
        errors = doc.get("errors")
        self.assertIsInstance(errors, list, doc)
        self.assertTrue(errors, doc)
        for e in errors:
            self.assertIsInstance(e, dict, doc)
            self.assertIsInstance(e.get("field"), str, doc)
            self.assertIsInstance(e.get("message"), str, doc)
            self.assertTrue(e.get("message"), doc)
        got = {e["field"] for e in errors}
        for f in fields or ():
            self.assertIn(f, got, f"errors[].field lacks {f!r}: {doc}")
        return doc

    def assertUnauthorized(self, resp):
        st, headers, body, doc = resp
        self.assertProblem(resp, 401, "unauthorized")
        www = headers.get("www-authenticate", "")
        self.assertTrue(www.lower().startswith("bearer"), f"WWW-Authenticate: {www!r}")
        return doc
