"""What the Dagster definitions run: the inboxes file and the environment, read and checked.

No Dagster import here, so the main test venv can test it. Contract:

* ``load_settings(environ)`` reads the ``LOOP_DAGSTER_*`` variables (and
  ``MELTANO_PROJECT_ROOT``) and the inboxes file they name; any mistake raises
  ``OrchestrationError`` with one message naming the file, entry and key.
* Every ``Inbox`` is one Meltano pipeline: ``meltano el EXTRACTOR LOADER --state-id ID``
  with the inbox's settings as Meltano environment variables (``TAP_LOOP_TEAM_IDS`` ...).
  Names and state ids are unique: two pipelines on one state id would overwrite each
  other's bookmark and skip rows.
* Secrets never come from the inboxes file (it is code, reviewed and committed): the token
  and passwords come from the environment or Meltano's ``.env``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
#: The repository (a Meltano project) when MELTANO_PROJECT_ROOT is not set.
DEFAULT_PROJECT = HERE.parents[1]
DEFAULT_INBOXES_FILE = HERE / "inboxes.yml"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Settings that hold credentials: refused in the inboxes file.
SECRET_KEYS = frozenset({"api_token", "token", "password", "sqlalchemy_url", "private_key"})
ENTRY_KEYS = frozenset(
    {"name", "extractor", "loader", "state_id", "tap_config", "loader_config", "timeout_minutes"}
)
DEFAULT_KEYS = frozenset({"extractor", "loader", "timeout_minutes"})


class OrchestrationError(ValueError):
    """A setting or an inboxes-file entry that cannot be used; the message says which."""


@dataclass(frozen=True)
class Inbox:
    """One shared inbox (or report): one Meltano pipeline with its own state id."""

    name: str
    extractor: str
    loader: str
    state_id: str
    tap_config: Mapping[str, Any] = field(default_factory=dict)
    loader_config: Mapping[str, Any] = field(default_factory=dict)
    timeout_minutes: float = 360

    def command(self, meltano: str) -> list[str]:
        """The Meltano command line (no secrets in it)."""
        return [meltano, "el", self.extractor, self.loader, "--state-id", self.state_id]

    def env(self) -> dict[str, str]:
        """The inbox's settings as the environment variables Meltano reads for them."""
        out = {env_name(self.extractor, k): env_value(v) for k, v in self.tap_config.items()}
        out.update({env_name(self.loader, k): env_value(v) for k, v in self.loader_config.items()})
        return out


@dataclass(frozen=True)
class Settings:
    """Where Meltano is, what to run, and when."""

    project: Path
    meltano: str
    inboxes_file: Path
    inboxes: tuple[Inbox, ...]
    cron: str = "0 * * * *"
    timezone: str = "UTC"
    retries: int = 3
    retry_delay_seconds: float = 60.0


def env_name(plugin: str, setting: str) -> str:
    """Meltano's environment variable for a plugin setting: ``TAP_LOOP_TEAM_IDS``."""
    return re.sub(r"[^A-Z0-9]", "_", f"{plugin}_{setting}".upper())


def env_value(value: Any) -> str:
    """A setting value as Meltano parses it from the environment (lists, objects: JSON)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment and the inboxes file it names (see the README)."""
    env = os.environ if environ is None else environ
    project = Path(env.get("MELTANO_PROJECT_ROOT") or DEFAULT_PROJECT)
    local = project / ".venv-meltano" / "bin" / "meltano"
    meltano = env.get("LOOP_DAGSTER_MELTANO") or (str(local) if local.exists() else "meltano")
    path = Path(env.get("LOOP_DAGSTER_INBOXES") or DEFAULT_INBOXES_FILE)
    return Settings(
        project=project,
        meltano=meltano,
        inboxes_file=path,
        inboxes=load_inboxes(path),
        cron=env.get("LOOP_DAGSTER_CRON") or "0 * * * *",
        timezone=env.get("LOOP_DAGSTER_TIMEZONE") or "UTC",
        retries=int(_number(env, "LOOP_DAGSTER_RETRIES", 3, integer=True)),
        retry_delay_seconds=_number(env, "LOOP_DAGSTER_RETRY_DELAY_SECONDS", 60.0),
    )


def _number(env: Mapping[str, str], name: str, default: float, integer: bool = False) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise OrchestrationError(f"{name}={text!r} is not {kind}; fix or unset it") from None
    if value < 0:
        raise OrchestrationError(f"{name}={text!r} is negative; use 0 or more")
    return value


def load_inboxes(path: Path) -> tuple[Inbox, ...]:
    """The inboxes of a YAML file (format: orchestration/README.md), checked."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise OrchestrationError(
            f"{path}: cannot read it ({exc.strerror}); set LOOP_DAGSTER_INBOXES to the inboxes file"
        ) from None
    except yaml.YAMLError as exc:
        raise OrchestrationError(f"{path}: not valid YAML ({exc})") from None
    return parse_inboxes(doc, str(path))


def parse_inboxes(doc: Any, where: str) -> tuple[Inbox, ...]:
    """Inboxes from a parsed document ``{defaults: {...}, inboxes: [{...}, ...]}``."""
    if not isinstance(doc, dict) or not isinstance(doc.get("inboxes"), list):
        raise OrchestrationError(f"{where}: needs a list `inboxes:` (one entry per inbox)")
    if not doc["inboxes"]:
        raise OrchestrationError(f"{where}: `inboxes:` is empty; add at least one inbox")
    defaults = doc.get("defaults") or {}
    _check_keys(defaults, DEFAULT_KEYS, f"{where}: defaults")
    inboxes: list[Inbox] = []
    for i, raw in enumerate(doc["inboxes"]):
        inbox = _inbox(raw, defaults, f"{where}: inboxes[{i}]")
        for other in inboxes:
            if other.name == inbox.name:
                raise OrchestrationError(f"{where}: inboxes[{i}]: name {inbox.name!r} twice")
            if other.state_id == inbox.state_id:
                raise OrchestrationError(
                    f"{where}: inboxes[{i}] ({inbox.name}): state_id {inbox.state_id!r} is "
                    f"also {other.name}'s; each inbox needs its own state id"
                )
        inboxes.append(inbox)
    return tuple(inboxes)


def _inbox(raw: Any, defaults: Mapping[str, Any], where: str) -> Inbox:
    _check_keys(raw, ENTRY_KEYS, where)
    merged = {**defaults, **raw}
    name = merged.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise OrchestrationError(
            f"{where}: name {name!r} must be lower-case letters, digits and _ (at most 63), "
            "starting with a letter: it names the asset, the job and the state id"
        )
    where = f"{where} ({name})"
    extractor = _text(merged, "extractor", "tap-loop", where)
    loader = _text(merged, "loader", "target-duckdb", where)
    state_id = _text(merged, "state_id", f"dagster:{extractor}-to-{loader}:{name}", where)
    tap_config = _config(merged.get("tap_config"), f"{where}: tap_config")
    loader_config = _config(merged.get("loader_config"), f"{where}: loader_config")
    timeout = merged.get("timeout_minutes", 360)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise OrchestrationError(f"{where}: timeout_minutes {timeout!r} must be a number > 0")
    return Inbox(name, extractor, loader, state_id, tap_config, loader_config, float(timeout))


def _check_keys(raw: Any, allowed: frozenset[str], where: str) -> None:
    if not isinstance(raw, dict):
        raise OrchestrationError(f"{where}: must be a mapping (key: value)")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise OrchestrationError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )


def _text(merged: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = merged.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise OrchestrationError(f"{where}: {key} must be a non-empty string")
    return value


def _config(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise OrchestrationError(f"{where}: must be a mapping of setting names to values")
    for key in raw:
        if key.lower() in SECRET_KEYS or "secret" in key.lower():
            raise OrchestrationError(
                f"{where}: {key} is a credential; set it in the environment or Meltano's "
                ".env, never in the inboxes file"
            )
    return dict(raw)
