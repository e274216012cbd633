"""tap-loop: a Singer tap for Loop (intheloop.io) raw analytics exports."""

from __future__ import annotations

__version__ = "0.1.0"
