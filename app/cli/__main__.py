"""`python -m app.cli ...`: the same commands as the `kumkm` console script."""

import sys

from app.cli import main

sys.exit(main())
