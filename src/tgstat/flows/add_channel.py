"""``python -m tgstat.flows.add_channel``: the name the requirements give the command
(it lives in ``tgstat.cli.sessions``)."""

import sys

from tgstat.cli.sessions import add_channel_main

if __name__ == "__main__":
    sys.exit(add_channel_main())
