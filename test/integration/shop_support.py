"""Helpers for the catalog / orders / saga integration tests (on top of harness.py).

- admin bootstrap credentials (SHOPD_ADMIN_EMAIL / SHOPD_ADMIN_PASSWORD) for a server,
- product and order calls,
- a keep-alive HTTP client that survives a server restart on another port,
- read-only access to <data-dir>/shopd.db (sqlite3, mode=ro) for verification.
"""

import http.client
import json
import os
import re
import sqlite3
import subprocess
import time
import uuid

import harness
from harness import ShopdServer, ShopdTestCase, bearer, wait_for

ADMIN_EMAIL = "catalog-admin@example.com"
ADMIN_PASSWORD = "admin password for catalog tests"
ADMIN_ENV = {"SHOPD_ADMIN_EMAIL": ADMIN_EMAIL, "SHOPD_ADMIN_PASSWORD": ADMIN_PASSWORD}

# Many users are registered from 127.0.0.1 in these suites, and some users place many
# orders at once (the per-user order limits have their own tests in test_order_limits.py).
SHOP_OPTIONS = {"registrations-per-ip": 100000, "login-failures-per-ip": 100000,
                "orders-per-minute": 60000, "order-burst": 100000, "max-pending-orders-per-user": 100000}

FINAL_STATUSES = ("confirmed", "rejected", "cancelled")


def admin_token(srv):
    st, _, body, doc = srv.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    if st != 200:
        raise AssertionError(f"admin login -> {st} {body[:300]!r} (is the admin bootstrap env set?)")
    return doc["access_token"]


class ShopTestCase(ShopdTestCase):
    """A shared server started with the bootstrap admin; `cls.admin` is the admin's access token.
    Subclasses may extend `server_options` (start from SHOP_OPTIONS) and setUpClass."""
    server_options = dict(SHOP_OPTIONS)
    server_env = ADMIN_ENV

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = admin_token(cls.server)


def product_body(name="Widget", price_cents=999, currency="USD", stock=10, description=None):
    body = {"name": name, "price_cents": price_cents, "currency": currency, "stock": stock}
    if description is not None:
        body["description"] = description
    return body


def create_product(srv, token, **fields):
    """POST /v1/products; returns the product document (asserts 201)."""
    resp = srv.request("POST", "/v1/products", body=product_body(**fields), headers=bearer(token))
    if resp[0] != 201:
        raise AssertionError(f"create product {fields} -> {resp[0]} {resp[2][:300]!r}")
    return resp[3]


def random_uuid():
    return str(uuid.uuid4())


def order_body(items):
    """items: list of (product_id, quantity)."""
    return {"items": [{"product_id": p, "quantity": q} for p, q in items]}


def post_order(srv, token, items, key, headers=None):
    hdrs = dict(bearer(token))
    if key is not None:
        hdrs["Idempotency-Key"] = key
    hdrs.update(headers or {})
    body = order_body(items) if isinstance(items, list) else items
    return srv.request("POST", "/v1/orders", body=body, headers=hdrs)


def get_order(srv, token, order_id):
    return srv.request("GET", f"/v1/orders/{order_id}", headers=bearer(token))


def wait_order_final(srv, token, order_id, timeout=10.0):
    """Poll GET /v1/orders/{id} until the status is final; returns the last document."""
    last = {}

    def final():
        resp = get_order(srv, token, order_id)
        last["resp"] = resp
        return resp[0] == 200 and resp[3].get("status") in FINAL_STATUSES

    wait_for(final, timeout, interval=0.05)
    return last["resp"]


# ---------------------------------------------------------------------------
# Read-only database access

class ReadOnlyDb:
    """Reads the server's database directly, so a test can check what the API claims.

    Embedded: sqlite3 on <data-dir>/shopd.db opened read-only (mode=ro), a new
    connection per query so every read sees the latest committed state.
    Scale-out (SHOPD_TEST_TOPOLOGY=scaleout): the same SQL through psql on the
    server's PostgreSQL database, with values typed back as sqlite3 gives them
    (integers as int, booleans as 1/0, NULL as None)."""

    def __init__(self, data_dir):
        self.path = os.path.join(data_dir, "shopd.db")
        self.data_dir = data_dir

    def query(self, sql, params=()):
        if harness.SCALE_OUT:
            return self._query_postgres(sql, params)
        uri = "file:" + self.path + "?mode=ro"
        last_error = None
        for _ in range(50):
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=5.0)
                try:
                    return conn.execute(sql, params).fetchall()
                finally:
                    conn.close()
            except sqlite3.OperationalError as e:  # e.g. busy during a checkpoint
                last_error = e
                time.sleep(0.05)
        raise last_error

    def _query_postgres(self, sql, params):
        import pg_server
        server = pg_server.shared_server()
        parts = sql.split("?")
        if len(parts) != len(params) + 1:
            raise ValueError(f"{len(params)} parameters for {sql!r}")
        literal = [p if isinstance(p, (int, float)) else "'" + str(p).replace("'", "''") + "'" for p in params]
        text = parts[0] + "".join(str(v) + rest for v, rest in zip(literal, parts[1:]))
        # A BOOLEAN column there, an INTEGER 0/1 in SQLite: compared and read as the integer.
        text = re.sub(r"\b((?:\w+\.)?stock_reserved)\b", r"\1::int", text)
        out = subprocess.run(["psql", "-X", "-tA", "-F", "\x1f", "-R", "\x1e", "-P", "null=\x1d", "-v",
                              "ON_ERROR_STOP=1", "-d", server.url(harness.scale_out_database(self.data_dir)),
                              "-c", text], capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"psql {text!r}: {out.stderr}")

        def typed(v):
            if v == "\x1d":
                return None
            if v in ("t", "f"):
                return 1 if v == "t" else 0
            try:
                return int(v)
            except ValueError:
                return v

        body = out.stdout.rstrip("\n")
        if not body:
            return []
        return [tuple(typed(v) for v in row.split("\x1f")) for row in body.split("\x1e") if row != ""]

    def scalar(self, sql, params=()):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def stock(self, product_id):
        return self.scalar("SELECT stock FROM products WHERE id = ?", (product_id,))

    def stocks(self):
        return dict(self.query("SELECT id, stock FROM products"))


# ---------------------------------------------------------------------------
# A client that follows a restarting server (new port) and keeps its connection alive

class FollowingClient:
    """One keep-alive connection to `target.port` (re-read on reconnect). Connection
    errors are returned as status None rather than raised."""

    def __init__(self, target, timeout=10.0):
        self.target = target  # any object with a .port attribute
        self.timeout = timeout
        self.conn = None
        self.port = None

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(status, headers dict, body bytes, json) or (None, {}, b"", repr(error))."""
        port = self.target.port
        if self.conn is None or self.port != port:
            self.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
            self.port = port
        hdrs = dict(headers or {})
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=payload, headers=hdrs)
            resp = self.conn.getresponse()
            data = resp.read()
            resp_headers = {k.lower(): v for k, v in resp.getheaders()}
            if resp_headers.get("connection", "").lower() == "close":
                self.close()
            try:
                doc = json.loads(data) if data else None
            except ValueError:
                doc = None
            return resp.status, resp_headers, data, doc
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, {}, b"", repr(e)


__all__ = [
    "ADMIN_EMAIL", "ADMIN_PASSWORD", "ADMIN_ENV", "SHOP_OPTIONS", "FINAL_STATUSES", "ShopdServer",
    "admin_token", "product_body", "create_product", "random_uuid", "order_body", "post_order",
    "get_order", "wait_order_final", "ReadOnlyDb", "FollowingClient",
]
