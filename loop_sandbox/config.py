"""Sandbox options: an immutable snapshot, replaced as a whole when changed."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from loop_sandbox.rows import slot_params

#: Options of ``generate_rows`` (and fields of ``RenderSpec``) under the same names.
ROW_OPTIONS = (
    "rows_per_day",
    "seed",
    "drift_after",
    "big_integers",
    "shuffled_keys",
    "edge_values",
    "custom_fields",
    "deep_nesting",
    "tap_named_fields",
    "warehouse_shapes",
    "numbers_between",
    "given_values",
)


@dataclass(frozen=True)
class SandboxConfig:
    """Behaviour options of a running sandbox (see docs/sandbox.md)."""

    token: str = "test-token"
    processing_seconds: float = 0.2
    url_ttl_seconds: float = 600
    rows_per_day: int = 96
    seed: int = 0
    allowed_impersonation: frozenset[str] = frozenset({"boss@example.com"})
    max_range_days: float | None = None
    drift_after: int | None = None
    account_verified: bool = True
    forbidden: bool = False
    unknown_export_status: int = 404
    bad_content_type_status: int = 415
    reissue_expired_urls: bool = False
    download_host: str = "127.0.0.1"
    json_bom: bool = False
    empty_as_zero_bytes: bool = False
    big_integers: bool = False
    shuffled_keys: bool = False
    credential_query: bool = False
    edge_values: bool = False
    custom_fields: int = 0
    deep_nesting: int = 0
    tap_named_fields: bool = False
    warehouse_shapes: bool = False
    numbers_between: tuple[int, int] | None = None
    given_values: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def updated(self, **options: Any) -> SandboxConfig:
        """A copy with ``options`` applied; ValueError on unknown names or bad values."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(unknown)}")
        if options.get("numbers_between") is not None:
            options["numbers_between"] = tuple(options["numbers_between"])
        if "given_values" in options:
            options["given_values"] = _given(options["given_values"])
        if "allowed_impersonation" in options:
            options["allowed_impersonation"] = _as_set(options["allowed_impersonation"])
        new = dataclasses.replace(self, **options)
        new.validate()
        return new

    def validate(self) -> None:
        """Raise ValueError when an option has an impossible value."""
        if not isinstance(self.token, str):
            raise ValueError("token must be a string")
        _number(self.processing_seconds, "processing_seconds")
        _number(self.url_ttl_seconds, "url_ttl_seconds")
        slot_params(self.rows_per_day)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError("seed must be an integer")
        if self.max_range_days is not None:
            _number(self.max_range_days, "max_range_days")
        if self.drift_after is not None and not isinstance(self.drift_after, int):
            raise ValueError("drift_after must be epoch seconds (int) or null")
        for count in ("custom_fields", "deep_nesting"):
            value = getattr(self, count)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{count} must be a non-negative integer")
        between = self.numbers_between
        if between is not None and (
            len(between) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in between)
        ):
            raise ValueError("numbers_between must be two epoch seconds [from, until] or null")
        if self.unknown_export_status not in (400, 404, 410):
            raise ValueError("unknown_export_status must be 400, 404 or 410")
        if self.bad_content_type_status not in (400, 415):
            raise ValueError("bad_content_type_status must be 400 or 415")
        for flag in (
            "account_verified",
            "forbidden",
            "reissue_expired_urls",
            "json_bom",
            "empty_as_zero_bytes",
            "big_integers",
            "shuffled_keys",
            "credential_query",
            "edge_values",
            "tap_named_fields",
            "warehouse_shapes",
        ):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be a boolean")

    def row_options(self) -> dict[str, Any]:
        """The options that decide which rows an export holds (``generate_rows``'s)."""
        return {name: getattr(self, name) for name in ROW_OPTIONS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view (sets become sorted lists)."""
        out = dataclasses.asdict(self)
        out["allowed_impersonation"] = sorted(self.allowed_impersonation)
        return out


def _given(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``given_values`` as a hashable tuple: {field: [JSON text, ...]} (or its pairs)."""
    pairs = value.items() if isinstance(value, dict) else (value or ())
    out = []
    for name, texts in pairs:
        if not isinstance(name, str) or isinstance(texts, str) or not texts:
            raise ValueError("given_values must map field names to lists of JSON texts")
        if not all(isinstance(text, str) for text in texts):
            raise ValueError("given_values must map field names to lists of JSON texts")
        out.append((name, tuple(texts)))
    return tuple(out)


def _as_set(value: Iterable[str] | str | None) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset({value})
    return frozenset(value)


def _number(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{name} must be a non-negative number")
