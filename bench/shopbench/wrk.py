"""wrk: its command line and the parser of its output.

Usage:
  argv = command(url, conns=64, duration="10s", headers=["Authorization: Bearer x"])
  out = parse(text_of_wrk_output)
  out.rps, out.requests, out.latency_ms["99"], out.errors()   # errors() is "0" when clean
"""

import re
from dataclasses import dataclass, field
from typing import Optional, Sequence

CLIENT_CPU = 1   # wrk (and this driver) run on CPU 1; the servers on CPU 0

# wrk prints times with these units (src/units.c: time_units_us and the s/m/h ones)
_TIME_UNITS_MS = (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0), ("h", 3600000.0))


def command(url: str, *, conns: int, duration: str, headers: Sequence[str] = (),
            script: str = "", cpu: int = CLIENT_CPU) -> list:
    """taskset -c CPU wrk -t1 -cN -dD --latency [-H h]... [-s script] url"""
    argv = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{conns}", f"-d{duration}", "--latency"]
    for header in headers:
        argv += ["-H", header]
    if script:
        argv += ["-s", script]
    return argv + [url]


def to_ms(text: str) -> Optional[float]:
    """A wrk time (812.00us, 1.23ms, 1.02s, 1.50m) in milliseconds; None if it is not one."""
    for suffix, factor in _TIME_UNITS_MS:
        number = text[: -len(suffix)]
        if text.endswith(suffix) and re.fullmatch(r"[0-9]+(\.[0-9]*)?", number):
            return float(number) * factor
    return None


@dataclass(frozen=True)
class WrkOutput:
    requests: Optional[int] = None          # "N requests in T"
    seconds: Optional[float] = None         # T
    rps: Optional[float] = None             # "Requests/sec:"
    latency_ms: dict = field(default_factory=dict)   # "50" / "75" / "90" / "99" -> ms
    socket_errors: str = ""                 # "connect 0, read 0, write 0, timeout 3" if printed
    non_2xx: Optional[int] = None           # "Non-2xx or 3xx responses: N" if printed

    @property
    def completed(self) -> bool:
        return self.rps is not None

    def errors(self) -> str:
        """Socket errors, non-2xx/3xx answers and a failed run, as one short string; "0" if none."""
        parts = []
        if self.socket_errors:
            parts.append(f"sock: {self.socket_errors}")
        if self.non_2xx is not None:
            parts.append(f"non-2xx: {self.non_2xx}")
        if not self.completed:
            parts.append("wrk failed")
        return "; ".join(parts) or "0"


_REQUESTS = re.compile(r"^\s*([0-9]+) requests in ([0-9.]+[a-z]+),")
_PERCENTILE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)%\s+(\S+)\s*$")


def parse(text: str) -> WrkOutput:
    requests = seconds = rps = non_2xx = None
    latency_ms = {}
    socket_errors = ""
    in_distribution = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped == "Latency Distribution":
            in_distribution = True
            continue
        match = _PERCENTILE.match(line)
        if in_distribution and match:
            percentile = match.group(1).removesuffix(".0")
            latency_ms[percentile] = to_ms(match.group(2))
            continue
        in_distribution = False
        match = _REQUESTS.match(line)
        if match:
            requests = int(match.group(1))
            ms = to_ms(match.group(2))
            seconds = ms / 1000 if ms is not None else None
        elif stripped.startswith("Socket errors:"):
            socket_errors = stripped.removeprefix("Socket errors:").strip()
        elif stripped.startswith("Non-2xx or 3xx responses:"):
            non_2xx = int(stripped.split()[-1])
        elif stripped.startswith("Requests/sec:"):
            rps = float(stripped.split()[1])
    return WrkOutput(requests, seconds, rps, latency_ms, socket_errors, non_2xx)
