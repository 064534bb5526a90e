"""Puts bench/ on sys.path, so the tests import shopbench.

Run from the repository root:  python3 -m unittest discover bench/tests
"""

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))
