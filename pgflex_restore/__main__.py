"""``python -m pgflex_restore``: the command line (see pgflex_restore/cli.py)."""

import sys

from pgflex_restore.cli import main

sys.exit(main())
