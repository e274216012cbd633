"""``python -m tap_loop``: the same CLI as the ``tap-loop`` console script."""

from __future__ import annotations

from tap_loop.tap import TapLoop

TapLoop.cli()
