"""Fault rules: which request gets which fault (explicit rules first, then random mode)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from loop_sandbox.rows import mix64

TARGETS = ("create", "poll", "download", "any")
_ALL = frozenset({"create", "poll", "download"})
# kind -> request targets it can act on
KINDS: dict[str, frozenset[str]] = {
    "http_status": _ALL,
    "reset": _ALL,
    "delay": _ALL,
    "truncate": frozenset({"download"}),
    "invalid_json": frozenset({"download"}),
    "corrupt": frozenset({"download"}),
    "html_page": frozenset({"download"}),
    "insert_row": frozenset({"download"}),
    "trickle": _ALL,
    "forget": frozenset({"poll"}),
    "expire_url": frozenset({"download"}),
    "failed": frozenset({"poll"}),
    "expired": frozenset({"poll"}),
    "status_literal": frozenset({"poll"}),
    "url_literal": frozenset({"poll"}),
    "slow": frozenset({"create"}),
    "id_literal": frozenset({"create"}),
    "empty_created": frozenset({"create"}),
    "redirect": frozenset({"download"}),
}
_RULE_KEYS = {"target", "kind", "times", "skip"}


@dataclass
class Fault:
    """A fault chosen for one request."""

    kind: str
    params: dict[str, Any]
    source: str = "rule"

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)


@dataclass
class FaultRule:
    """A parsed rule: ``times`` None means unlimited; ``skip`` requests pass first."""

    target: str
    kind: str
    times: int | None = 1
    skip: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    fired: int = 0

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> FaultRule:
        """Validate a rule dict; raise ValueError with a readable message."""
        if not isinstance(spec, dict):
            raise ValueError("a fault rule must be an object")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        target = spec.get("target", "any")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}")
        if target != "any" and target not in KINDS[kind]:
            raise ValueError(f"fault {kind!r} cannot apply to {target!r} requests")
        times = spec.get("times", 1)
        if times is not None and (not isinstance(times, int) or times < -1 or times == 0):
            raise ValueError("times must be a positive integer, or -1/null for unlimited")
        skip = spec.get("skip", 0)
        if not isinstance(skip, int) or skip < 0:
            raise ValueError("skip must be a non-negative integer")
        params = {k: v for k, v in spec.items() if k not in _RULE_KEYS}
        _check_params(kind, params)
        return cls(target, kind, None if times in (None, -1) else times, skip, params)

    def applies_to(self, target: str) -> bool:
        return self.target in (target, "any") and target in KINDS[self.kind]

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind,
            "times": self.times,
            "skip": self.skip,
            "fired": self.fired,
            **self.params,
        }


def _check_params(kind: str, p: dict[str, Any]) -> None:
    def number(name: str, default: float, low: float = 0, high: float | None = None) -> None:
        value = p.get(name, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value < low
            or (high is not None and value > high)
        ):
            raise ValueError(f"{kind}: {name} must be a number in [{low}, {high or 'inf'}]")

    if kind == "http_status":
        status = p.get("status")
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("http_status: status must be an int in 400..599")
        ra = p.get("retry_after")
        if ra is not None and ra != "http-date":
            try:
                float(ra)
            except (TypeError, ValueError):
                msg = "http_status: retry_after must be seconds or 'http-date'"
                raise ValueError(msg) from None
        number("retry_after_seconds", 1)
    elif kind in ("delay", "slow"):
        number("seconds", 1)
        if "after_fraction" in p:
            number("after_fraction", 0, 0, 1)
    elif kind == "truncate":
        number("fraction", 0.5, 0, 1)
    elif kind in ("url_literal", "id_literal") and "value" not in p:
        raise ValueError(f"{kind}: value is required (any JSON value)")
    elif kind == "redirect" and not isinstance(p.get("location", ""), str):
        raise ValueError("redirect: location must be a string")
    elif kind == "trickle":
        number("bytes_per_second", 50, 0.01)
        if not isinstance(p.get("headers", True), bool):
            raise ValueError("trickle: headers must be a boolean")
    elif kind == "expire_url" and p.get("then", "fresh") not in ("fresh", "expired"):
        raise ValueError("expire_url: then must be 'fresh' or 'expired'")


@dataclass
class RandomFaults:
    """Deterministic random faults: request n draws from hash(seed, n)."""

    seed: int
    rate: float
    kinds: list[FaultRule]
    drawn: int = 0

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> RandomFaults:
        if not isinstance(spec, dict):
            raise ValueError("random faults must be an object")
        rate = spec.get("rate", 0.3)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise ValueError("random: rate must be in [0, 1]")
        kinds = spec.get("kinds")
        if not isinstance(kinds, list) or not kinds:
            raise ValueError("random: kinds must be a non-empty list of rule templates")
        seed = spec.get("seed", 0)
        if not isinstance(seed, int):
            raise ValueError("random: seed must be an integer")
        return cls(seed, float(rate), [FaultRule.parse(k) for k in kinds])

    def draw(self, target: str) -> Fault | None:
        n = self.drawn
        self.drawn += 1
        base = mix64(self.seed * 0x100000001B3 + 17)
        if mix64(base ^ n) / 2.0**64 >= self.rate:
            return None
        options = [k for k in self.kinds if k.applies_to(target)]
        if not options:
            return None
        pick = options[mix64(base ^ n ^ 0xA5A5A5A5A5A5) % len(options)]
        pick.fired += 1
        return Fault(pick.kind, dict(pick.params), "random")

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "rate": self.rate,
            "drawn": self.drawn,
            "kinds": [k.to_dict() for k in self.kinds],
        }


class FaultBook:
    """The sandbox's fault rules; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._random: RandomFaults | None = None

    def add(self, spec: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Add a rule, a list of rules, or ``{"random": {...}}`` (replaces random mode)."""
        if isinstance(spec, dict) and "random" in spec:
            self.set_random(spec["random"])
            return
        rules = [FaultRule.parse(s) for s in (spec if isinstance(spec, list) else [spec])]
        with self._lock:
            self._rules.extend(rules)

    def set_random(self, spec: dict[str, Any] | None) -> None:
        """Enable (or with None disable) random mode."""
        parsed = None if spec is None else RandomFaults.parse(spec)
        with self._lock:
            self._random = parsed

    def clear(self) -> None:
        with self._lock:
            self._rules = []
            self._random = None

    def take(self, target: str) -> Fault | None:
        """The fault for one request of ``target`` ("create"/"poll"/"download"), if any.

        Rules are tried in order; a rule still skipping counts the request and lets it
        pass on to later rules; the first rule that fires wins. Random mode is only
        consulted when no rule fired.
        """
        with self._lock:
            for rule in self._rules:
                if rule.exhausted or not rule.applies_to(target):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                rule.fired += 1
                return Fault(rule.kind, dict(rule.params))
            if self._random is not None:
                return self._random.draw(target)
            return None

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [r.to_dict() for r in self._rules],
                "random": None if self._random is None else self._random.to_dict(),
            }
