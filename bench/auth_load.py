#!/usr/bin/env python3
"""bench/auth_load.py: read latency under password-hashing load (bench/run.py cases
`auth-flood` and `register-spike`; see bench/README.md).

auth-flood:      wrk on GET /v1/users/me and on GET /v1/products/{id}, each once on a quiet
                 server and once while a paced flood of wrong-password logins (unknown emails,
                 from many client addresses 127.0.x.y) keeps the hashing pool full; the p99 of
                 both beside each other, and how the flood was answered (401 = verified,
                 503 = refused because the hash queue was full, with its latency).
register-spike:  wrk on GET /v1/products/{id} quiet, then while registrations arrive at a fixed
                 rate (default 100/s, open loop: each is sent on schedule whether or not the
                 earlier ones were answered) from many addresses; how many were created (201),
                 how many refused at once (503 + Retry-After), and their latencies.

Run by bench/run.py, which starts shopd pinned to CPU 0 and this script (and its wrk) on CPU 1.
Prints a markdown section on stdout and writes the raw figures as JSON to --out. Every wrk it
starts runs in its own session and is killed by PID if it outlives its time bound.
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field


@dataclass
class WrkResult:
    rps: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    errors: str = "0"


@dataclass
class LoadStats:
    sent: int = 0
    seconds: float = 0.0
    by_status: dict = field(default_factory=dict)
    p50_ms: dict = field(default_factory=dict)   # status -> ms
    p99_ms: dict = field(default_factory=dict)
    max_ms: dict = field(default_factory=dict)
    over_100ms: dict = field(default_factory=dict)  # status -> answers slower than 100 ms
    refused_without_retry_after: int = 0
    late_starts: int = 0   # requests sent more than 100 ms behind their schedule


def to_ms(text):
    for suffix, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float("nan")


def run_wrk(url, seconds, conns, headers, out_path):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(url)
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            proc.wait(seconds + 30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    text = open(out_path).read()
    r = WrkResult()
    errs = []
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            r.rps = float(parts[1])
        elif len(parts) == 2 and parts[0] == "50%":
            r.p50_ms = to_ms(parts[1])
        elif len(parts) == 2 and parts[0] == "99%":
            r.p99_ms = to_ms(parts[1])
        elif "Socket errors:" in line:
            errs.append(line.strip())
        elif line.startswith("  Non-2xx or 3xx responses:"):
            errs.append("non-2xx: " + parts[-1])
    if "Requests/sec:" not in text:
        errs.append("wrk failed")
    r.errors = "; ".join(errs) or "0"
    return r


class Client:
    """Requests to shopd from a chosen source address on loopback."""

    def __init__(self, port):
        self.port = port

    def request(self, source_ip, method, path, body=None, headers=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout, source_address=(source_ip, 0))
        try:
            payload = json.dumps(body).encode() if body is not None else None
            hdrs = {"Content-Type": "application/json"} if payload is not None else {}
            hdrs.update(headers or {})
            conn.request(method, path, body=payload, headers=hdrs)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheader("Retry-After"), data
        finally:
            conn.close()

    def metric(self, name):
        st, _, body = self.request("127.0.0.1", "GET", "/metrics")
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.split()[-1])
        return total

    def login_token(self, email, password):
        st, _, body = self.request("127.0.0.1", "POST", "/v1/auth/login", {"email": email, "password": password})
        if st != 200:
            raise SystemExit(f"auth_load.py: login of {email} answered {st}: {body[:200]!r}")
        return json.loads(body)["access_token"]


def address(n):
    """The n-th of 250 * 200 client addresses, 127.0.1.10 and up."""
    return f"127.0.{1 + (n // 250) % 200}.{5 + n % 250}"


class PacedLoad:
    """Open-loop load: request i is due at start + i / rate and is sent by one of `workers`
    threads as soon as one is free; records every answer."""

    def __init__(self, client, rate, make_request, workers=64):
        self.client = client
        self.rate = rate
        self.make_request = make_request
        self.workers = workers
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.next = 0
        self.answers = []  # (status, seconds, retry_after)
        self.late = 0
        self.threads = []
        self.started = 0.0
        self.stopped = 0.0

    def _run(self):
        while not self.stop.is_set():
            with self.lock:
                i = self.next
                self.next += 1
            due = self.started + i / self.rate
            now = time.monotonic()
            if due > now:
                if self.stop.wait(due - now):
                    return
            elif now - due > 0.1:
                with self.lock:
                    self.late += 1
            method, path, body = self.make_request(i)
            t0 = time.monotonic()
            try:
                st, retry_after, _ = self.client.request(address(i), method, path, body)
            except (OSError, http.client.HTTPException) as e:
                st, retry_after = type(e).__name__, None
            with self.lock:
                self.answers.append((st, time.monotonic() - t0, retry_after))

    def __enter__(self):
        self.started = time.monotonic()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.workers)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(60)
        self.stopped = time.monotonic()
        return False

    def stats(self):
        s = LoadStats(sent=len(self.answers), seconds=round(self.stopped - self.started, 2), late_starts=self.late)
        by = {}
        for st, took, retry_after in self.answers:
            by.setdefault(str(st), []).append(took * 1000)
            if st == 503 and not retry_after:
                s.refused_without_retry_after += 1
        for st, ms in sorted(by.items()):
            ms.sort()
            s.by_status[st] = len(ms)
            s.p50_ms[st] = round(ms[len(ms) // 2], 2)
            s.p99_ms[st] = round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2)
            s.max_ms[st] = round(ms[-1], 2)
            s.over_100ms[st] = sum(1 for m in ms if m > 100)
        return s


def fmt(v, digits=2):
    return "NA" if v != v else f"{v:.{digits}f}"


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def flood_case(args, client, product_url):
    """auth-flood: per run, each read endpoint quiet, then under the login flood."""
    runs = []
    for r in range(1, args.runs + 1):
        token = client.login_token(args.email, args.password)
        reads = {"/v1/users/me": (f"{args.base}/v1/users/me", [f"Authorization: Bearer {token}"]),
                 "/v1/products/{id}": (product_url, [])}
        run = {"run": r}
        for name, (url, headers) in reads.items():
            key = "me" if "users" in name else "product"
            quiet = run_wrk(url, args.duration, args.conns, headers, f"{args.out}/auth-flood-{key}-quiet-run{r}.txt")
            v0 = client.metric("shopd_password_verifications_total")
            rej0 = client.metric("shopd_hash_pool_rejected_total")

            def bad_login(i):
                return "POST", "/v1/auth/login", {"email": f"flood-{r}-{key}-{i}@example.com",
                                                  "password": "not the password"}
            with PacedLoad(client, args.flood_rate, bad_login, workers=args.workers) as flood:
                time.sleep(1.0)  # let the flood fill the hash queue first
                loaded = run_wrk(url, args.duration, args.conns, headers,
                                 f"{args.out}/auth-flood-{key}-flood-run{r}.txt")
            stats = flood.stats()
            run[key] = {"quiet": asdict(quiet), "flood": asdict(loaded), "logins": asdict(stats),
                        "verifications": client.metric("shopd_password_verifications_total") - v0,
                        "hash_queue_refusals": client.metric("shopd_hash_pool_rejected_total") - rej0}
            print(f"[auth-flood run{r} {name}] p99 quiet {fmt(quiet.p99_ms)} ms, under flood "
                  f"{fmt(loaded.p99_ms)} ms; logins {stats.by_status} (p99 ms {stats.p99_ms})", file=sys.stderr)
        runs.append(run)
    return runs


def spike_case(args, client, product_url):
    """register-spike: per run, product reads quiet, then during paced registrations."""
    runs = []
    for r in range(1, args.runs + 1):
        quiet = run_wrk(product_url, args.duration, args.conns, [], f"{args.out}/register-spike-quiet-run{r}.txt")

        def register(i):
            return "POST", "/v1/auth/register", {"email": f"spike-{uuid.uuid4().hex}@example.com",
                                                 "password": "spike password 123", "name": "Spike"}
        with PacedLoad(client, args.register_rate, register, workers=args.workers) as spike:
            loaded = run_wrk(product_url, args.duration, args.conns, [], f"{args.out}/register-spike-load-run{r}.txt")
        stats = spike.stats()
        runs.append({"run": r, "quiet": asdict(quiet), "spike": asdict(loaded), "registrations": asdict(stats)})
        print(f"[register-spike run{r}] product p99 quiet {fmt(quiet.p99_ms)} ms, during spike {fmt(loaded.p99_ms)} ms; "
              f"registrations {stats.by_status} (p99 ms {stats.p99_ms})", file=sys.stderr)
    return runs


def report_flood(args, runs):
    out = [f"## Reads under a login flood (wrk -t1 -c{args.conns} -d{args.duration}s; flood: {args.flood_rate} "
           f"wrong-password logins/s for unknown emails from many 127.0.x.y addresses, {args.workers} client threads)",
           "",
           "Each read endpoint is measured quiet, then while the flood runs (it starts 1 s before wrk). Median of "
           f"{args.runs} run(s). Logins: 401 = the password was verified (one argon2 hash each), 503 = refused at "
           "once because the hash queue was full (with Retry-After).",
           "",
           "| read | p99 ms quiet | p99 ms under flood | p50 ms quiet | p50 ms under flood | req/s quiet | req/s under flood "
           "| wrk errors (flood) | logins answered/s | 401 (verified) | 503 (refused) | 503 p50 / p99 / max ms | 503 slower than 100 ms "
           "| 503 without Retry-After |",
           "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|"]
    for key, name in (("me", "GET /v1/users/me"), ("product", "GET /v1/products/{id} (cached)")):
        q = [r[key]["quiet"] for r in runs]
        f = [r[key]["flood"] for r in runs]
        lg = [r[key]["logins"] for r in runs]
        rate = median([x["sent"] / x["seconds"] if x["seconds"] else float("nan") for x in lg])
        out.append("| " + " | ".join([
            name, fmt(median([x["p99_ms"] for x in q])), fmt(median([x["p99_ms"] for x in f])),
            fmt(median([x["p50_ms"] for x in q])), fmt(median([x["p50_ms"] for x in f])),
            fmt(median([x["rps"] for x in q]), 0), fmt(median([x["rps"] for x in f]), 0),
            ";".join(sorted({x["errors"] for x in f})),
            fmt(rate, 0),
            fmt(median([x["by_status"].get("401", 0) for x in lg]), 0),
            fmt(median([x["by_status"].get("503", 0) for x in lg]), 0),
            f'{fmt(median([x["p50_ms"].get("503", float("nan")) for x in lg]))} / '
            f'{fmt(median([x["p99_ms"].get("503", float("nan")) for x in lg]))} / '
            f'{fmt(max([x["max_ms"].get("503", float("nan")) for x in lg] or [float("nan")]))}',
            str(sum(x["over_100ms"].get("503", 0) for x in lg)),
            str(sum(x["refused_without_retry_after"] for x in lg))]) + " |")
    others = sorted({st for r in runs for k in ("me", "product") for st in r[k]["logins"]["by_status"]} - {"401", "503"})
    if others:
        out.append("")
        out.append(f"- other login answers seen: {', '.join(others)}")
    out.append("")
    return "\n".join(out)


def report_spike(args, runs):
    q = [r["quiet"] for r in runs]
    s = [r["spike"] for r in runs]
    rg = [r["registrations"] for r in runs]
    out = [f"## Registration spike ({args.register_rate} new registrations/s, open loop, from many 127.0.x.y "
           f"addresses, for {args.duration} s; wrk -t1 -c{args.conns} on GET /v1/products/{{id}} meanwhile)",
           "",
           f"Median of {args.runs} run(s). 201 = created (one argon2 hash each); 503 = past the hashing pool's capacity, "
           "refused at once with Retry-After.",
           "",
           "| product p99 ms quiet | product p99 ms during spike | product req/s quiet | during spike | wrk errors (spike) "
           "| registrations sent | 201 | 503 | other | 201 p50 / p99 ms | 503 p50 / p99 / max ms | 503 slower than 100 ms "
           "| 503 without Retry-After | sent > 100 ms late |",
           "|---:|---:|---:|---:|---|---:|---:|---:|---|---|---|---:|---:|---:|"]
    other = sorted({st for x in rg for st in x["by_status"]} - {"201", "503"})
    out.append("| " + " | ".join([
        fmt(median([x["p99_ms"] for x in q])), fmt(median([x["p99_ms"] for x in s])),
        fmt(median([x["rps"] for x in q]), 0), fmt(median([x["rps"] for x in s]), 0),
        ";".join(sorted({x["errors"] for x in s})),
        fmt(median([x["sent"] for x in rg]), 0),
        fmt(median([x["by_status"].get("201", 0) for x in rg]), 0),
        fmt(median([x["by_status"].get("503", 0) for x in rg]), 0),
        ", ".join(f"{st}: {sum(x['by_status'].get(st, 0) for x in rg)}" for st in other) or "0",
        f"{fmt(median([x['p50_ms'].get('201', float('nan')) for x in rg]))} / "
        f"{fmt(median([x['p99_ms'].get('201', float('nan')) for x in rg]))}",
        f"{fmt(median([x['p50_ms'].get('503', float('nan')) for x in rg]))} / "
        f"{fmt(median([x['p99_ms'].get('503', float('nan')) for x in rg]))} / "
        f"{fmt(max([x['max_ms'].get('503', float('nan')) for x in rg] or [float('nan')]))}",
        str(sum(x["over_100ms"].get("503", 0) for x in rg)),
        str(sum(x["refused_without_retry_after"] for x in rg)),
        str(sum(x["late_starts"] for x in rg))]) + " |")
    out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=["auth-flood", "register-spike"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--product-id", required=True)
    ap.add_argument("--email", required=True, help="an existing account, for the /v1/users/me token")
    ap.add_argument("--password", required=True)
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--flood-rate", type=float, default=400, help="login attempts per second in the flood")
    ap.add_argument("--register-rate", type=float, default=100, help="registrations per second in the spike")
    ap.add_argument("--workers", type=int, default=64, help="client threads sending the flood / spike")
    ap.add_argument("--out", required=True, help="directory for raw wrk output and the JSON figures")
    args = ap.parse_args()
    args.base = f"http://127.0.0.1:{args.port}"
    client = Client(args.port)
    product_url = f"{args.base}/v1/products/{args.product_id}"
    if args.case == "auth-flood":
        runs = flood_case(args, client, product_url)
        report = report_flood(args, runs)
    else:
        runs = spike_case(args, client, product_url)
        report = report_spike(args, runs)
    with open(f"{args.out}/{args.case}.json", "w") as f:
        json.dump({"args": {k: v for k, v in vars(args).items() if k != "password"}, "runs": runs}, f, indent=2)
    print(report)


if __name__ == "__main__":
    main()
