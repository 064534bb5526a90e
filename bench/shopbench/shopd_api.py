"""The HTTP calls the benchmark makes to shopd, and the parsers of its /metrics text.

Usage:
  client = ShopdClient(port)
  token = client.login(BENCH_EMAIL, BENCH_PASSWORD)
  counts = order_counts(client.metrics())    # None when shopd cannot be read
"""

import http.client
import json
from dataclasses import dataclass
from typing import Optional

from .errors import BenchError

BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench-password-123"
ADMIN_EMAIL = "bench-admin@example.com"
ADMIN_PASSWORD = "bench-admin-password-123"
PRODUCT_STOCK = 1_000_000_000   # the catalog's maximum: orders never run out of stock


@dataclass(frozen=True)
class OrderCounts:
    accepted: int       # orders taken (shopd_orders_placed_total / bull:orders:id)
    final: int          # orders done (confirmed + rejected / completed + failed)
    unsuccessful: int   # finished but not confirmed / failed jobs


class ShopdClient:
    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.port = port
        self.host = host

    def request(self, method: str, path: str, body=None, token: str = "",
                timeout_s: float = 30) -> tuple:
        """-> (status, body bytes). Raises OSError when shopd does not answer."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)
        try:
            headers = {}
            payload = None
            if body is not None:
                payload = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def login(self, email: str = BENCH_EMAIL, password: str = BENCH_PASSWORD) -> str:
        status, body = self.request("POST", "/v1/auth/login",
                                    {"email": email, "password": password})
        try:
            return json.loads(body)["access_token"]
        except (ValueError, KeyError, TypeError):
            raise BenchError(f"login failed ({status}): {body[:300]!r}") from None

    def register(self, email: str, password: str, name: str) -> tuple:
        return self.request("POST", "/v1/auth/register",
                            {"email": email, "password": password, "name": name})

    def create_product(self, admin_token: str) -> tuple:
        return self.request("POST", "/v1/products",
                            {"name": "Bench product", "description": "bench/run.sh",
                             "price_cents": 1999, "currency": "USD", "stock": PRODUCT_STOCK},
                            token=admin_token)

    def metrics(self, timeout_s: float = 5) -> str:
        """/metrics as text; "" when shopd does not answer 200."""
        try:
            status, body = self.request("GET", "/metrics", timeout_s=timeout_s)
        except OSError:
            return ""
        return body.decode(errors="replace") if status == 200 else ""


def _samples(text: str):
    for line in text.splitlines():
        if line and not line.startswith("#"):
            fields = line.split()
            if len(fields) >= 2:
                yield fields[0], fields[-1]


def metric_sum(text: str, name: str) -> float:
    """The sum of a metric over all its label sets (0 if absent)."""
    return sum(float(value) for key, value in _samples(text)
               if key == name or key.startswith(name + "{"))


def products_cache_counts(text: str) -> tuple:
    """(hits, misses) of shopd's products cache."""
    def total(name):
        return int(sum(float(value) for key, value in _samples(text)
                       if key.startswith(name + "{") and 'cache="products"' in key))
    return total("shopd_cache_hits_total"), total("shopd_cache_misses_total")


def order_counts(text: str) -> Optional[OrderCounts]:
    """accepted = shopd_orders_placed_total, final = sum of shopd_orders_finished_total{status},
    unsuccessful = the finished ones not "confirmed"; None if the placed counter is absent."""
    accepted = None
    final = unsuccessful = 0.0
    for key, value in _samples(text):
        if key == "shopd_orders_placed_total":
            accepted = float(value)
        elif key.startswith("shopd_orders_finished_total{"):
            final += float(value)
            if 'status="confirmed"' not in key:
                unsuccessful += float(value)
    if accepted is None:
        return None
    return OrderCounts(round(accepted), round(final), round(unsuccessful))


def product_id(body: bytes) -> str:
    try:
        return str(json.loads(body)["id"])
    except (ValueError, KeyError, TypeError):
        raise BenchError(f"no product id in {body[:300]!r}") from None
