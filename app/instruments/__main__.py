"""Allow `python -m app.instruments validate|list`."""

import sys

from app.instruments.cli import main

raise SystemExit(main(sys.argv[1:]))
