"""Dagster definitions for tap-loop (outside the wheel): one asset, job and schedule per
shared inbox, each a ``meltano el`` run with its own state id. ``definitions`` imports
Dagster; ``inboxes`` and ``runner`` do not. See orchestration/README.md."""
