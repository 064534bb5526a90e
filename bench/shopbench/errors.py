"""The two ways a benchmark run ends early."""


class BenchError(Exception):
    """A fatal problem (bad knob, missing tool, a server that does not come up)."""


class Interrupted(BaseException):
    """SIGINT, SIGTERM or SIGHUP arrived. A BaseException, so `except Exception` lets it pass."""

    def __init__(self, signum: int):
        super().__init__(f"signal {signum}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
