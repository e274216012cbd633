"""What a sample of rows shows: their schema and the fields never null (key candidates)."""

from __future__ import annotations

import itertools
import logging
import typing as t

from tap_loop.schemas.build import build_schema, choose_keys, with_keys
from tap_loop.schemas.inference import SchemaInferrer, allow_deep_values, big_integer_note

if t.TYPE_CHECKING:
    from tap_loop.config.settings import Settings

LOGGER = logging.getLogger("tap_loop.discovery")


#: Rows inferred from at once: each column pass over a batch this small finds its
#: objects still in the CPU's caches (a batch of 1,000 nested rows is slower than one
#: row at a time; 10 to 100 is about twice as fast).
_BATCH = 100


class Sample:
    """What rows show, taken one by one and never held: the schema and the fields never
    null (key candidates)."""

    def __init__(self) -> None:
        allow_deep_values()  # the rows it takes may nest up to VALUE_DEPTH levels
        self.inferrer = SchemaInferrer()
        self.never_null: set[str] | None = None
        self.rows = 0

    def add(self, row: dict[str, t.Any]) -> None:
        self.add_rows([row])

    def add_rows(self, rows: list[dict[str, t.Any]]) -> None:
        """Take these rows into account, column by column, ``_BATCH`` rows at a time."""
        for at in range(0, len(rows), _BATCH):
            self._add_batch(rows[at : at + _BATCH])

    def _add_batch(self, rows: list[dict[str, t.Any]]) -> None:
        self.rows += len(rows)
        self.inferrer.add_rows(rows)
        count = len(rows)
        present = {
            name
            for name in dict.fromkeys(itertools.chain.from_iterable(rows))
            if None not in map(dict.get, rows, itertools.repeat(name, count))
        }
        self.never_null = present if self.never_null is None else self.never_null & present

    def inferred(
        self, max_object_keys: int | None = None, big_integers: str | None = None
    ) -> dict[str, t.Any] | None:
        """The schema inferred from the rows added (nested objects with more distinct
        keys than ``max_object_keys`` free-form; fields of integers beyond 64 bits as
        ``big_integers`` says); None when none was."""
        if self.never_null is None:
            return None
        return self.inferrer.schema(max_object_keys, big_integers)

    def schema_and_keys(
        self, settings: Settings, source: str
    ) -> tuple[dict[str, t.Any], list[str]]:
        """The schema and key properties of the rows added (read from ``source``)."""
        inferred = self.inferred(settings.max_object_keys, settings.big_integers)
        for place in self.inferrer.folded:
            LOGGER.warning("Schema: %s", place.describe(settings.max_object_keys))
        for name in self.inferrer.big_fields:
            LOGGER.warning("Schema: %s", big_integer_note(name, settings.big_integers))
        if inferred is None:
            LOGGER.warning(
                "The %s had no rows: the schema holds only the tap's own fields and the "
                "'schema_overrides' setting; fields will be added as they appear (schema drift).",
                source,
            )
        else:
            LOGGER.info(
                "Inferred %d field(s) from %d row(s) of the %s",
                len(inferred.get("properties", {})),
                self.rows,
                source,
            )
        schema = build_schema(inferred, settings.schema_overrides)
        never_null = self.never_null or set()
        keys = choose_keys(schema, settings.primary_keys, never_null)
        for key in keys:
            if key in schema["properties"] and key not in never_null:
                LOGGER.warning(
                    "Key property %r is null or missing in some rows of the %s: it is "
                    "declared non-null (targets make it the primary key), so the first "
                    "such row stops the run. What to do: set primary_keys to fields every "
                    "row has.",
                    key,
                    source,
                )
        return with_keys(schema, keys)

    @classmethod
    def of(cls, rows: t.Iterable[dict[str, t.Any]]) -> Sample:
        sample = cls()
        rows = iter(rows)
        while batch := list(itertools.islice(rows, _BATCH)):
            sample.add_rows(batch)
        return sample
