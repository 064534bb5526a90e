"""`python3 -m bench` from the repository root: the same as `python3 bench/run.py`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from shopbench.cli import main  # noqa: E402

sys.exit(main())
