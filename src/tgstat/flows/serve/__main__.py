"""``python -m tgstat.flows.serve``: see ``tgstat.flows.serve``."""

import sys

from tgstat.flows.serve import main
from tgstat.flows.serve.deployments import deployments

if __name__ == "__main__":
    sys.exit(main(deployments))
