"""The table of cases: what is measured, against which server, and how much load.

Four kinds:
  http     wrk -t1 -cCONNS -dDURATION --latency on one URL (warm-up: WARMUP)
  orders   wrk with a Lua script that stops after ORDERS responses (warm-up: WARMUP_ORDERS),
           then the wait until every accepted order / job is final
  pgbench  pgbench's TPC-B-like script, PGBENCH_CLIENTS clients for DURATION (warm-up: WARMUP),
           against PostgreSQL itself (after `pgbench -i -s PGBENCH_SCALE`)
  auth     bench/auth_load.py (reads under password-hashing load), RUNS rounds of DURATION

Usage:
  case = CASES["shopd-me"]
  case.server       # "shopd" (a key of servers.SERVERS)
  case.path         # "/v1/users/me", with a bearer token per run (case.bearer)
"""

from dataclasses import dataclass

HTTP = "http"
ORDERS = "orders"
PGBENCH = "pgbench"
AUTH = "auth"

# The servers that run shopd (servers.SERVERS with a shopd session: a user, the product, /metrics)
SHOPD_SERVERS = ("shopd", "shopd-pg")
# The servers that are or need PostgreSQL
POSTGRES_SERVERS = ("postgres", "shopd-pg")


@dataclass(frozen=True)
class Case:
    name: str
    kind: str                  # HTTP, ORDERS, PGBENCH or AUTH
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
        return {HTTP: "WARMUP", ORDERS: "WARMUP_ORDERS", PGBENCH: "WARMUP", AUTH: ""}[self.kind]

    @property
    def run_knob(self) -> str:
        return {HTTP: "DURATION", ORDERS: "ORDERS", PGBENCH: "DURATION",
                AUTH: "DURATION"}[self.kind]


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
    Case("orders-pg", ORDERS, "shopd-pg", "shopd on PostgreSQL POST /v1/orders -> saga final",
         "**shopd on PostgreSQL** (each order committed to PostgreSQL, synchronous_commit=on, "
         "before its 202; saga reserve + pay + confirm, all durable)", path="/v1/orders",
         bearer=True, script="{bench}/wrk/post_order.lua", counters="shopd", needs_product=True),
    Case("bullmq", ORDERS, "queue", "BullMQ POST /order -> job completed",
         "BullMQ (Redis without persistence; no-op job)", path="/order",
         script="{peers}/wrk/post_order.lua", counters="bullmq"),
    Case("pgbench", PGBENCH, "postgres", "pgbench TPC-B-like (built-in script)",
         "PostgreSQL alone: pgbench TPC-B-like (same server, for scale)"),
    Case("auth-flood", AUTH, "shopd", "shopd reads under a login flood", needs_product=True),
    Case("register-spike", AUTH, "shopd", "shopd reads during a registration spike",
         needs_product=True),
)

CASES = {case.name: case for case in _TABLE}
DEFAULT_CASES = ("nginx", "express", "shopd-health", "shopd-me", "shopd-product",
                 "express-cache", "orders", "orders-pg", "bullmq", "pgbench")


def of_kind(names, kind: str) -> tuple:
    """The cases of `names` of one kind, in the order given."""
    return tuple(name for name in names if CASES[name].kind == kind)
