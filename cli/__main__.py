"""`python -m cli`, the same command line as `python -m pgflex_restore`."""

import sys

from cli.restore import main

sys.exit(main())
