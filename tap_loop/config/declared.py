"""Every setting of the tap, declared once: name, type, default, bound, label,
description, secret, required.

Derived from :data:`SETTINGS`: the tap's JSON Schema (:func:`config_jsonschema`), the
defaults and bounds :func:`tap_loop.config.settings.load_settings` applies
(:data:`DECLARED`), the tap-loop extractor's ``settings:`` in ``meltano.yml``
(:func:`meltano_settings`, then singer-sdk's own :data:`SDK_SETTINGS`) and the Meltano
Hub plugin definition ``hub/extractors/tap-loop/tap-loop.yml`` (:func:`hub_definition`:
those settings, the fields it shares with meltano.yml in :data:`PLUGIN`, the Hub's own in
:data:`HUB_ONLY`). Both files are written by ``python -m tap_loop.config.declared --write
meltano.yml --hub hub/extractors/tap-loop/tap-loop.yml``; tests/unit/config/test_declared.py
and test_declared_hub.py fail when a file differs.

Fractional settings (type ``number``) accept numbers or numeric strings and are
``kind: string`` for Meltano: Meltano 4.4 crashes writing a tap's config for
``kind: decimal``. The deprecated ``schema`` setting is read by settings.py, undeclared.
"""

from __future__ import annotations

import json
import re
import sys
import typing as t
from dataclasses import dataclass

from singer_sdk import typing as th

Kind = t.Literal["string", "datetime", "strings", "number", "integer", "object"]

# A number, or a numeric string (Meltano and TAP_LOOP_* variables pass strings).
_NUMBER = {"type": ["number", "string"], "pattern": r"^\s*[0-9]*\.?[0-9]+\s*$"}
_MELTANO_KIND = {
    "string": "string",
    "datetime": "date_iso8601",
    "strings": "array",
    "number": "string",  # not `decimal`: Meltano 4.4 crashes writing it
    "integer": "integer",
    "object": "object",
}


@dataclass(frozen=True)
class Bound:
    """A lower bound: ``value > limit`` if ``exclusive``, else ``value >= limit``."""

    limit: int
    exclusive: bool

    def check(self, value: float) -> bool:
        """Whether ``value`` is within the bound."""
        return value > self.limit if self.exclusive else value >= self.limit

    @property
    def rule(self) -> str:
        """The bound in words, as error messages say it ("must be <rule>")."""
        return f"greater than {self.limit}" if self.exclusive else f"{self.limit} or more"

    def jsonschema(self, kind: Kind) -> dict[str, int]:
        """The JSON Schema keyword; an integer's exclusive bound is the next integer."""
        if kind == "integer":
            return {"minimum": self.limit + 1 if self.exclusive else self.limit}
        return {"exclusiveMinimum" if self.exclusive else "minimum": self.limit}


POSITIVE = Bound(0, exclusive=True)
NOT_NEGATIVE = Bound(0, exclusive=False)
AT_LEAST_ONE = Bound(1, exclusive=False)


@dataclass(frozen=True)
class Setting:
    """One setting. ``options`` (value, label) restricts a string to those values;
    ``filter_field`` is the export body's field a list of ids filters by."""

    name: str
    kind: Kind
    label: str
    description: str
    default: t.Any = None
    bound: Bound | None = None
    required: bool = False
    secret: bool = False
    options: tuple[tuple[str, str], ...] = ()
    filter_field: str | None = None

    def property(self) -> th.Property[t.Any]:
        """The setting as a singer-sdk property of the config schema."""
        bound = self.bound.jsonschema(self.kind) if self.bound else {}
        types: dict[Kind, t.Callable[[], t.Any]] = {
            "string": lambda: th.StringType,
            "datetime": lambda: th.DateTimeType,
            "strings": lambda: th.ArrayType(th.StringType),
            "number": lambda: th.CustomType({**_NUMBER, **bound}),
            "integer": lambda: th.IntegerType(**bound),
            "object": lambda: th.ObjectType(additional_properties=True),
        }
        return th.Property(
            self.name,
            types[self.kind](),
            required=self.required,
            secret=self.secret,
            default=self.default,
            allowed_values=[value for value, _ in self.options] or None,
            description=self.description,
        )

    def meltano(self) -> dict[str, t.Any]:
        """The setting as an entry of a Meltano plugin's ``settings:``."""
        entry: dict[str, t.Any] = {"name": self.name, "label": self.label}
        entry["kind"] = "options" if self.options else _MELTANO_KIND[self.kind]
        if self.options:
            entry["options"] = [{"label": label, "value": value} for value, label in self.options]
        if self.default is not None:
            entry["value"] = str(self.default) if self.kind == "number" else self.default
        if self.secret:
            entry["sensitive"] = True
        entry["description"] = self.description
        return entry


def _ids(name: str, label: str, api_field: str, what: str) -> Setting:
    description = f"Only rows of these {what} (sent as `{api_field}`); empty: no filter."
    return Setting(name, "strings", label, description, filter_field=api_field)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "api_token",
        "string",
        "API token",
        "Loop API token (Loop web settings, API keys tab), sent as "
        "`Authorization: Bearer <token>`.",
        required=True,
        secret=True,
    ),
    Setting(
        "api_url", "string", "API URL", "Base URL of the Loop API.", "https://api.intheloop.io"
    ),
    Setting(
        "start_date",
        "datetime",
        "Start date",
        "First moment to export (ISO 8601) when there is no state.",
        required=True,
    ),
    Setting(
        "end_date",
        "datetime",
        "End date",
        "Last moment to export (ISO 8601); default, and at most: when the run started, "
        "minus settle_minutes.",
    ),
    Setting(
        "timezone",
        "string",
        "Time zone",
        "IANA time zone Loop uses to calculate the export (e.g. Europe/Ljubljana).",
        "UTC",
    ),
    _ids("tag_ids", "Tag IDs", "tagIds", "tags (at least one)"),
    _ids("team_ids", "Team (shared inbox) IDs", "teamIds", "shared inboxes"),
    _ids("teammate_ids", "Teammate IDs", "teammateIds", "teammates (email addresses)"),
    _ids("customer_ids", "Customer IDs", "customerIds", "customers (email addresses)"),
    Setting(
        "impersonate_user",
        "string",
        "Impersonate user",
        "Make API calls on behalf of this workspace user "
        "(sent as `X-Impersonate-User`, never to the download host).",
    ),
    Setting(
        "window_days",
        "number",
        "Window (days)",
        "Length of one export window in days; fractions allowed (0.25 = six hours).",
        1,
        POSITIVE,
    ),
    Setting(
        "lookback_days",
        "number",
        "Lookback (days)",
        "On incremental runs, start this many days before the bookmark to pick up late data.",
        0,
        NOT_NEGATIVE,
    ),
    Setting(
        "poll_interval_seconds",
        "number",
        "Poll interval (seconds)",
        "Wait before the first status check of an export and between checks.",
        10,
        POSITIVE,
    ),
    Setting(
        "export_timeout_seconds",
        "number",
        "Export timeout (seconds)",
        "Give up on one export (then split its window) after waiting this long.",
        3600,
        POSITIVE,
    ),
    Setting(
        "primary_keys",
        "strings",
        "Primary keys",
        "Key properties of the stream; default: a never-null `id` field found by discovery.",
    ),
    Setting(
        "schema_sample_days",
        "number",
        "Schema sample (days)",
        "Discovery samples an export of this many days "
        "(ending at end_date or now) to infer the schema.",
        7,
        POSITIVE,
    ),
    Setting(
        "schema_sample_rows",
        "integer",
        "Schema sample rows",
        "Discovery (and a sync without a catalog, from its first window) "
        "infers the schema from at most this many rows.",
        5000,
        POSITIVE,
    ),
    Setting(
        "max_object_keys",
        "integer",
        "Max object keys",
        "A nested object (at any depth, not the row itself) whose distinct keys, in the "
        "sample or during a sync, pass this many is announced as a free-form object (no "
        "properties: targets store it as JSON) instead of one field per key; its values "
        "are kept exactly. Bounds the SCHEMA messages of objects keyed by name or id.",
        100,
        AT_LEAST_ONE,
    ),
    Setting(
        "big_integers",
        "string",
        "Integers beyond 64 bits",
        "How a field holding integers beyond 64 bits (outside -2^63..2^63-1, what a bigint "
        "holds) is declared: string (its integers go out as strings of their digits, "
        "format x-singer.decimal: exact in target-postgres numeric and target-duckdb "
        "VARCHAR), or number (JSON numbers: exact in target-postgres numeric, rounded to "
        "a double in target-duckdb).",
        "string",
        options=(("string", "String of digits"), ("number", "Number")),
    ),
    Setting(
        "schema_overrides",
        "object",
        "Schema overrides",
        "JSON Schema property definitions that replace or add fields of the inferred "
        'schema, e.g. {"score": {"type": ["number", "null"]}}. Formerly `schema`: that '
        "name still works and logs a deprecation warning.",
    ),
    Setting(
        "result_format",
        "string",
        "Result format",
        "Export format to request: json, or xlsx (needs tap-loop[xlsx]).",
        "json",
        options=(("json", "JSON"), ("xlsx", "Excel (xlsx)")),
    ),
    Setting(
        "min_window_minutes",
        "integer",
        "Minimum window (minutes)",
        "A window whose export keeps failing is split in halves down to this length "
        "(minutes) before the tap gives up.",
        60,
        POSITIVE,
    ),
    Setting(
        "max_concurrent_exports",
        "integer",
        "Max concurrent exports",
        "Windows created and polled at once (rows are still emitted in window order); "
        "lowered automatically on HTTP 429.",
        4,
        AT_LEAST_ONE,
    ),
    Setting(
        "request_timeout_seconds",
        "number",
        "Request timeout (seconds)",
        "Deadline of one API call as a whole (connect, headers, body; an answer that "
        "trickles is cut and retried) and the timeout of each socket read of a download.",
        60,
        POSITIVE,
    ),
    Setting(
        "download_timeout_seconds",
        "number",
        "Download timeout (seconds)",
        "Deadline for downloading one result file as a whole (a host that trickles "
        "bytes); past it the download is tried once more, then the run stops.",
        1800,
        POSITIVE,
    ),
    Setting(
        "max_request_retries",
        "integer",
        "Max request retries",
        "Retries of one HTTP call on 429, 5xx, timeouts and connection errors before "
        "the run stops.",
        8,
        NOT_NEGATIVE,
    ),
    Setting(
        "max_retry_wait_seconds",
        "number",
        "Max retry wait (seconds)",
        "Cap on any single wait between retries, including a 429's Retry-After.",
        300,
        POSITIVE,
    ),
    Setting(
        "max_export_attempts",
        "integer",
        "Max export attempts",
        "Exports created for one window (after Failed or Expired) before the window is "
        "split or the run stops.",
        3,
        AT_LEAST_ONE,
    ),
    Setting(
        "settle_minutes",
        "number",
        "Settle period (minutes)",
        "Windows end at least this long before the run started, so Loop has finished "
        "computing the rows they hold; 0: up to the run's start.",
        10,
        NOT_NEGATIVE,
    ),
)

DECLARED: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


def config_jsonschema() -> dict[str, t.Any]:
    """The tap's config JSON Schema (``TapLoop.config_jsonschema``)."""
    return th.PropertiesList(*(setting.property() for setting in SETTINGS)).to_dict()


def meltano_settings() -> list[dict[str, t.Any]]:
    """The entries of the declared settings in the tap-loop extractor's ``settings:``
    (singer-sdk's own, :data:`SDK_SETTINGS`, follow them there)."""
    return [setting.meltano() for setting in SETTINGS]


# singer-sdk's own settings (stream maps, flattening), as Meltano entries: the tap reads
# them through singer-sdk, so they are no :class:`Setting`.
SDK_SETTINGS: tuple[dict[str, str], ...] = (
    {
        "name": "stream_maps",
        "label": "Stream maps",
        "kind": "object",
        "description": "Stream maps (singer-sdk inline mapping).",
    },
    {
        "name": "stream_map_config",
        "label": "Stream map config",
        "kind": "object",
        "description": "User-defined values used within stream map expressions.",
    },
    {
        "name": "faker_config",
        "label": "Faker config",
        "kind": "object",
        "description": (
            "Faker instance settings (seed, locale) for `fake` in stream map expressions."
        ),
    },
    {
        "name": "flattening_enabled",
        "label": "Flattening enabled",
        "kind": "boolean",
        "description": "Flatten nested properties into columns.",
    },
    {
        "name": "flattening_max_depth",
        "label": "Flattening max depth",
        "kind": "integer",
        "description": "Maximum depth to flatten.",
    },
    {
        "name": "flattening_max_key_length",
        "label": "Flattening max key length",
        "kind": "integer",
        "description": "Maximum length of a flattened key.",
    },
    {
        "name": "flattening_separator",
        "label": "Flattening separator",
        "kind": "string",
        "description": "Separator between the parts of a flattened key (default __).",
    },
)


def plugin_settings() -> list[dict[str, t.Any]]:
    """Every entry of the tap-loop extractor's ``settings:``: declared, then singer-sdk's."""
    return meltano_settings() + [dict(entry) for entry in SDK_SETTINGS]


# The fields of meltano.yml's tap-loop extractor that its Hub definition shares
# (hand-written in meltano.yml, with comments; test_declared_hub.py compares them).
PLUGIN: dict[str, t.Any] = {
    "name": "tap-loop",
    "namespace": "tap_loop",
    "label": "Loop",
    "description": "Raw analytics exports (per message, per conversation) of Loop's shared inboxes",
    # The project's URLs are placeholders: github.com/tap-loop/tap-loop.
    "docs": "https://github.com/tap-loop/tap-loop#readme",
    "repo": "https://github.com/tap-loop/tap-loop",
    "executable": "tap-loop",
    "capabilities": [
        "catalog",
        "discover",
        "state",
        "about",
        "stream-maps",
        "schema-flattening",
        "structured-logging",
    ],
    "settings_group_validation": [["api_token", "start_date"]],
}
# The Hub's own fields. variant: the repository's owner, as the Hub names variants.
# pip_url: the repository with the xlsx extra; the shell quotes are part of the value
# (Meltano splits pip_url like a shell; unquoted, `@` would stand alone). quality:
# rated by the Hub's maintainers, `unknown` until then. maintenance_status follows the
# package's "Development Status :: 4 - Beta".
HUB_ONLY: dict[str, t.Any] = {
    "variant": "tap-loop",
    "pip_url": "'tap-loop[xlsx] @ git+https://github.com/tap-loop/tap-loop.git'",
    "domain_url": "https://intheloop.io",
    "keywords": ["api", "meltano_sdk"],
    "maintenance_status": "beta",
    "quality": "unknown",
}
HUB_FILE = "hub/extractors/tap-loop/tap-loop.yml"
_HUB_HEAD = f"""\
# tap-loop's plugin definition in the Meltano Hub's format: in a clone of meltano/hub
# it is _data/meltano/extractors/tap-loop/tap-loop.yml (README, "Installation").
# Written from tap_loop/config/declared.py (do not edit) by
#   python -m tap_loop.config.declared --write meltano.yml --hub {HUB_FILE}
# The URLs (docs, repo, pip_url) are the project's placeholders,
# github.com/tap-loop/tap-loop: replace them with the real repository before
# submitting the file to the Hub.
"""


def _sorted(value: t.Any) -> t.Any:
    """``value`` with every mapping's keys in order (the Hub's yamllint key-ordering)."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def hub_definition() -> dict[str, t.Any]:
    """The Hub plugin definition, arranged as the Hub's formatter (hub-utils) leaves one:
    keys, settings (by name), capabilities and each settings group in order."""
    definition = {**PLUGIN, **HUB_ONLY}
    definition["capabilities"] = sorted(definition["capabilities"])
    definition["settings_group_validation"] = [
        sorted(group) for group in definition["settings_group_validation"]
    ]
    definition["settings"] = sorted(plugin_settings(), key=lambda entry: entry["name"])
    return t.cast("dict[str, t.Any]", _sorted(definition))


def _block(value: dict[str, t.Any] | list[t.Any], pad: str = "") -> list[str]:
    """``value`` as block YAML lines starting with ``pad``; a list under a key is not
    indented (the Hub's ``indent-sequences: false``)."""
    lines: list[str] = []
    items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
    for key, item in items:
        lead = f"{pad}- " if key is None else f"{pad}{key}:"
        if isinstance(item, (dict, list)) and item:
            if key is None:
                first, *rest = _block(item, pad + "  ")
                lines += [lead + first[len(pad) + 2 :], *rest]
            else:
                lines.append(lead)
                lines += _block(item, pad if isinstance(item, list) else pad + "  ")
        else:
            lines.append(f"{lead}{'' if key is None else ' '}{_scalar(item)}")
    return lines


def hub_yaml() -> str:
    """The text of the Hub definition file: :func:`hub_definition` under a header."""
    return _HUB_HEAD + "\n".join(_block(hub_definition())) + "\n"


BEGIN = "    # BEGIN settings written by `python -m tap_loop.config.declared --write meltano.yml`"
END = "    # END settings written by tap_loop.config.declared"
_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}
_PLAIN = re.compile(r"[A-Za-z(][^#{}\[\]&*!|>'\"%@`]*")


def _scalar(value: t.Any) -> str:
    """``value`` as a YAML scalar: plain when that reads back the same, else JSON."""
    if (
        isinstance(value, str)
        and _PLAIN.fullmatch(value)
        and ": " not in value
        and value == value.rstrip()
        and not value.endswith(":")
        and value.lower() not in _WORDS
    ):
        return value
    return json.dumps(value)


def meltano_yaml() -> str:
    """:func:`plugin_settings` as the lines of ``meltano.yml`` between BEGIN and END."""
    lines = []
    for entry in plugin_settings():
        first = True
        for key, value in entry.items():
            lead = "    - " if first else "      "
            first = False
            if key == "options":
                lines.append(f"{lead}options:")
                for option in value:
                    pairs = ", ".join(f"{k}: {_scalar(v)}" for k, v in option.items())
                    lines.append(f"      - {{{pairs}}}")
            else:
                lines.append(f"{lead}{key}: {_scalar(value)}")
    return "\n".join(lines) + "\n"


def with_meltano_settings(text: str) -> str:
    """``text`` (meltano.yml) with the lines between BEGIN and END replaced."""
    head, begin, rest = text.partition(BEGIN + "\n")
    _, end, tail = rest.partition(END + "\n")
    if not begin or not end:
        raise ValueError(f"meltano.yml lacks the lines {BEGIN!r} and {END!r}")
    return head + begin + meltano_yaml() + end + tail


USAGE = f"usage: python -m tap_loop.config.declared [--write meltano.yml [--hub {HUB_FILE}]]"


def main(argv: list[str]) -> int:
    """Print the meltano.yml block, or with ``--write FILE`` rewrite it in FILE and with
    ``--hub FILE`` also (re)write the Hub definition FILE."""
    if len(argv) in (2, 4) and argv[0] == "--write" and argv[2:3] in ([], ["--hub"]):
        with open(argv[1], encoding="utf-8") as file:
            text = with_meltano_settings(file.read())
        with open(argv[1], "w", encoding="utf-8") as file:
            file.write(text)
        if len(argv) == 4:
            with open(argv[3], "w", encoding="utf-8") as file:
                file.write(hub_yaml())
        return 0
    if argv:
        print(USAGE, file=sys.stderr)
        return 2
    sys.stdout.write(meltano_yaml())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
