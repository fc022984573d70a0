"""``python -m tgstat.flows.add_bot_session``: the name the requirements give the command
(it lives in ``tgstat.cli.sessions``)."""

import sys

from tgstat.cli.sessions import add_bot_session_main

if __name__ == "__main__":
    sys.exit(add_bot_session_main())
