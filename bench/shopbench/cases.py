"""The table of cases: what is measured, against which server, and how much load.

Three kinds:
  http    wrk -t1 -cCONNS -dDURATION --latency on one URL (warm-up: WARMUP)
  orders  wrk with a Lua script that stops after ORDERS responses (warm-up: WARMUP_ORDERS),
          then the wait until every accepted order / job is final
  auth    bench/auth_load.py (reads under password-hashing load), RUNS rounds of DURATION

Usage:
  case = CASES["shopd-me"]
  case.server       # "shopd" (a key of servers.SERVERS)
  case.path         # "/v1/users/me", with a bearer token per run (case.bearer)
"""

from dataclasses import dataclass

HTTP = "http"
ORDERS = "orders"
AUTH = "auth"


@dataclass(frozen=True)
class Case:
    name: str
    kind: str                  # HTTP, ORDERS or AUTH
    server: str                # the server it runs against (servers.SERVERS)
    label: str                 # the report's wording
    readme_label: str = ""     # the README table's wording (bench --render-table)
    path: str = ""             # request path; "{product_id}" is the bench product
    bearer: bool = False       # send a fresh bench-user token each run
    products_cache: bool = False   # HTTP: count shopd's products-cache hits/misses per run
    script: str = ""           # ORDERS: wrk Lua script; "{bench}" / "{peers}" are folders
    counters: str = ""         # ORDERS: "shopd" (/metrics) or "bullmq" (Redis keys)
    needs_product: bool = False    # shopd must have the bench product

    @property
    def warmup_knob(self) -> str:
        return {HTTP: "WARMUP", ORDERS: "WARMUP_ORDERS", AUTH: ""}[self.kind]

    @property
    def run_knob(self) -> str:
        return {HTTP: "DURATION", ORDERS: "ORDERS", AUTH: "DURATION"}[self.kind]


_TABLE = (
    Case("nginx", HTTP, "nginx", "nginx GET /health", "nginx `return 200`", path="/health"),
    Case("express", HTTP, "express", "express GET /health",
         "Express `GET /health` (single process)", path="/health"),
    Case("shopd-health", HTTP, "shopd", "shopd GET /health", "**shopd `GET /health`**",
         path="/health"),
    Case("shopd-me", HTTP, "shopd", "shopd GET /v1/users/me (bearer)",
         "**shopd `GET /v1/users/me`** (JWT verify + user lookup)", path="/v1/users/me",
         bearer=True),
    Case("shopd-product", HTTP, "shopd", "shopd GET /v1/products/{id} (cached)",
         "**shopd `GET /v1/products/{id}`** (cached)", path="/v1/products/{product_id}",
         products_cache=True, needs_product=True),
    Case("express-cache", HTTP, "cache", "express GET /cache/k1 (Redis hit)",
         "Express + Redis `GET /cache/k1` (hit)", path="/cache/k1"),
    Case("orders", ORDERS, "shopd", "shopd POST /v1/orders -> saga final",
         "**shopd** (each order committed before its 202; saga reserve + pay + confirm, "
         "all durable)", path="/v1/orders", bearer=True, script="{bench}/wrk/post_order.lua",
         counters="shopd", needs_product=True),
    Case("bullmq", ORDERS, "queue", "BullMQ POST /order -> job completed",
         "BullMQ (Redis without persistence; no-op job)", path="/order",
         script="{peers}/wrk/post_order.lua", counters="bullmq"),
    Case("auth-flood", AUTH, "shopd", "shopd reads under a login flood", needs_product=True),
    Case("register-spike", AUTH, "shopd", "shopd reads during a registration spike",
         needs_product=True),
)

CASES = {case.name: case for case in _TABLE}
DEFAULT_CASES = ("nginx", "express", "shopd-health", "shopd-me", "shopd-product",
                 "express-cache", "orders", "bullmq")


def of_kind(names, kind: str) -> tuple:
    """The cases of `names` of one kind, in the order given."""
    return tuple(name for name in names if CASES[name].kind == kind)
