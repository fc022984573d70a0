"""``python -m tgstat.cli``: the ``tgstat`` command."""

import sys

from tgstat.cli import main

sys.exit(main())
