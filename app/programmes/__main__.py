"""Allow `python -m app.programmes validate|list`."""

import sys

from app.programmes.cli import main

raise SystemExit(main(sys.argv[1:]))
