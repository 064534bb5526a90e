#!/usr/bin/env python3
"""bench/run.py: shopd against nginx, Express, Express + Redis and BullMQ (see bench/README.md)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shopbench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
