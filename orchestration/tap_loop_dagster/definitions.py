"""Dagster definitions: per inbox of the inboxes file, an asset, a job and a schedule.

``dagster dev -m tap_loop_dagster.definitions`` (with ``orchestration/`` on the path) loads
``defs``. For an inbox named ``support``:

* asset ``loop_support`` runs ``meltano el tap-loop <loader> --state-id <state id>`` in the
  Meltano project, with the inbox's settings as environment variables; a non-zero exit
  (or the deadline, ``timeout_minutes``) fails the step with Meltano's last lines, and
  the ``RetryPolicy`` runs it again (the tap resumes from the state Meltano stored);
* job ``tap_loop_support`` materializes only that asset, so every inbox is its own run:
  its own process (its own pod or container on a Kubernetes, Docker or ECS deployment),
  its own retries and its own Meltano state;
* schedule ``tap_loop_support_schedule``: ``LOOP_DAGSTER_CRON`` (default hourly, at minute
  0, in ``LOOP_DAGSTER_TIMEZONE``, default UTC); stopped until turned on, as Dagster's are;
* pool ``tap_loop_support``: with ``orchestration/dagster.yaml`` (pools of one), a run that
  outlasts the hour is not overlapped by the next one.

A bad inboxes file or setting fails the code location's load with one message
(``OrchestrationError``) naming the file, entry and key.
"""

# No `from __future__ import annotations`: Dagster reads the asset's `context` annotation
# at definition time and needs the class, not a string.
import json
import os
import subprocess
import sys
from typing import Any

import dagster as dg

from tap_loop_dagster.inboxes import Inbox, Settings, load_settings
from tap_loop_dagster.runner import run_command

SETTINGS = load_settings()


def _bookmark(settings: Settings, inbox: Inbox, env: dict[str, str]) -> str | None:
    """The report stream's bookmark Meltano now holds for the inbox, or None."""
    try:
        out = subprocess.run(
            [settings.meltano, "state", "get", inbox.state_id],
            cwd=settings.project,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.strip()
        state: dict[str, Any] = json.loads(out) if out else {}
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    report = state.get("singer_state", {}).get("bookmarks", {}).get("report") or {}
    value = report.get("replication_key_value")
    return value if isinstance(value, str) else None


def build_asset(settings: Settings, inbox: Inbox) -> dg.AssetsDefinition:
    """The asset that runs one inbox's Meltano pipeline (see the module docstring)."""

    @dg.asset(
        name=f"loop_{inbox.name}",
        group_name="tap_loop",
        kinds={"meltano"},
        pool=f"tap_loop_{inbox.name}",
        description=(
            f"Loop report rows of inbox {inbox.name!r}, loaded by `meltano el "
            f"{inbox.extractor} {inbox.loader} --state-id {inbox.state_id}`."
        ),
        metadata={"state_id": inbox.state_id, "loader": inbox.loader},
        retry_policy=dg.RetryPolicy(
            max_retries=settings.retries,
            delay=settings.retry_delay_seconds,
            backoff=dg.Backoff.EXPONENTIAL,
            jitter=dg.Jitter.PLUS_MINUS,
        ),
    )
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        command = inbox.command(settings.meltano)
        env = {**os.environ, **inbox.env()}
        context.log.info(
            f"attempt {context.retry_number + 1}: {' '.join(command)} "
            f"(settings from the environment: {', '.join(sorted(inbox.env())) or 'none'})"
        )
        result = run_command(
            command,
            cwd=settings.project,
            env=env,
            timeout_seconds=inbox.timeout_minutes * 60,
            echo=sys.stderr,  # Dagster's compute logs of the step
        )
        if result.timed_out or result.returncode != 0:
            why = (
                f"did not end within timeout_minutes={inbox.timeout_minutes:g} and was stopped"
                if result.timed_out
                else f"exited {result.returncode}"
            )
            raise dg.Failure(
                description=f"inbox {inbox.name}: meltano el {why} after {result.seconds:.0f} s; "
                "its last lines:\n" + "\n".join(result.tail),
                metadata={"state_id": inbox.state_id, "returncode": result.returncode},
            )
        metadata: dict[str, Any] = {
            "state_id": inbox.state_id,
            "seconds": round(result.seconds, 1),
        }
        bookmark = _bookmark(settings, inbox, env)
        if bookmark is not None:
            metadata["bookmark"] = bookmark
        return dg.MaterializeResult(metadata=metadata)

    return _asset


def build_definitions(settings: Settings) -> dg.Definitions:
    """Assets, jobs and schedules of every inbox of ``settings``."""
    assets, jobs, schedules = [], [], []
    for inbox in settings.inboxes:
        asset = build_asset(settings, inbox)
        job = dg.define_asset_job(
            f"tap_loop_{inbox.name}",
            selection=[asset],
            description=f"tap-loop for inbox {inbox.name!r} (state id {inbox.state_id}).",
        )
        assets.append(asset)
        jobs.append(job)
        schedules.append(
            dg.ScheduleDefinition(
                name=f"tap_loop_{inbox.name}_schedule",
                job=job,
                cron_schedule=settings.cron,
                execution_timezone=settings.timezone,
            )
        )
    return dg.Definitions(assets=assets, jobs=jobs, schedules=schedules)


defs = build_definitions(SETTINGS)
