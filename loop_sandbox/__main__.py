"""``python -m loop_sandbox``: run the sandbox from the command line."""

from __future__ import annotations

import sys

from loop_sandbox.cli import main

if __name__ == "__main__":
    sys.exit(main())
