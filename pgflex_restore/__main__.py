"""`python -m pgflex_restore`: hands over to the command line in `cli/` (a development and pipeline tool, not
deployed with the Functions app)."""

import sys

from cli.restore import main

sys.exit(main())
