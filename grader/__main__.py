"""`python -m grader` runs the `racelab` command line."""

import sys

from grader.cli import main

sys.exit(main())
