"""Discovery: infer each stream's schema and keys from a sample export of its own.

With a catalog (``--catalog``, as Meltano passes one) the catalog's schema and keys are
used as they are. Without one, a sample export over the last ``schema_sample_days``
(ending at ``end_date`` or now) is created with the stream's filters, and up to
``schema_sample_rows`` of its rows are read, streamed like any download, to infer the
schema: one sample export per stream (another only if that one fails). No token, or an
empty sample: the tap's own fields only, with a warning.
"""

from __future__ import annotations

import io
import logging
import typing as t
from pathlib import Path

from typing_extensions import override

from tap_loop.config.settings import DEFAULT_STREAM, Run, Settings, SettingsError
from tap_loop.core.errors import DownloadError, ExportFailed, RangeTooLarge
from tap_loop.core.workdir import WorkDir
from tap_loop.loop_api.lifecycle import MAX_INVALID_DOWNLOADS, CompletedExport, ExportLifecycle
from tap_loop.loop_api.windows import Window, to_epoch
from tap_loop.results.json_rows import InvalidExport, RowFeeder
from tap_loop.results.open import first_rows
from tap_loop.schemas.build import build_schema, choose_keys, with_keys
from tap_loop.schemas.sample import Sample

if t.TYPE_CHECKING:
    from singer_sdk.singerlib import Catalog

LOGGER = logging.getLogger("tap_loop.discovery")


def stream_settings(run: Run) -> list[Settings | None]:
    """Each stream's settings, in order (:meth:`Settings.streams`); with settings that do
    not load (discovery without validation), None for each name the config gives."""
    try:
        return list(run.settings.streams())
    except SettingsError:
        return [None]


def discover_schema(
    catalog: Catalog | None, run: Run, settings: Settings | None = None
) -> tuple[dict[str, t.Any], list[str]]:
    """The schema and key properties of the stream of ``settings`` (see the module
    docstring); None: settings that do not load, discovered without a sample."""
    name = settings.stream if settings is not None else DEFAULT_STREAM
    entry = catalog.get_stream(name) if catalog else None
    if entry is not None:
        return entry.schema.to_dict(), list(entry.key_properties or [])
    if settings is None:
        try:
            settings = run.settings
        except SettingsError as exc:
            LOGGER.warning("Settings are incomplete (%s): discovery without a sample", exc)
            return with_keys(build_schema(None, _overrides(run.config)), _keys(run.config))
    if not settings.api_token:
        LOGGER.warning(
            "No api_token: the schema holds only the tap's own fields and the "
            "'schema_overrides' setting. Set api_token so discovery can infer Loop's "
            "fields from a sample."
        )
        schema = build_schema(None, settings.schema_overrides)
        return with_keys(schema, choose_keys(schema, settings.primary_keys, set()))
    what = "sample export" if name == DEFAULT_STREAM else f"sample export of report {name}"
    return sample_export(settings, run.started).schema_and_keys(settings, what)


def sample_export(settings: Settings, now: t.Any) -> Sample:
    """Up to ``schema_sample_rows`` rows of one export over the sample period."""
    end = to_epoch(settings.end_date or now)
    windows = [Window(max(end - settings.schema_sample_seconds, 0), end)]
    if settings.window_seconds < settings.schema_sample_seconds:
        windows.append(Window(end - settings.window_seconds, end))
    work = WorkDir.create("tap-loop-discovery-")  # removes dead runs' folders first
    work_dir = work.path
    lifecycle = _SampleLifecycle.from_settings(settings, work_dir=work_dir)
    try:
        for window in windows:
            LOGGER.info(
                "Discovery: sampling the export of %s%s to infer the schema",
                window,
                "" if settings.stream == DEFAULT_STREAM else f" for report {settings.stream}",
            )
            try:
                done = lifecycle.produce(window)
            except (ExportFailed, RangeTooLarge) as exc:
                if isinstance(exc, ExportFailed) and not exc.splittable:
                    raise  # an answer the tap cannot act on: another window gets it too
                LOGGER.warning("Sample export of %s failed (%s)", window, exc)
                continue
            sampled = lifecycle.sampled
            if sampled is not None:
                LOGGER.info(
                    "Discovery: read %d row(s) from the first %d byte(s) of the sample",
                    sampled.rows,
                    done.size,
                )
                return sampled
            return _readable_sample(lifecycle, done, settings)
        LOGGER.warning("No sample export could be made: discovery without a sample")
        return Sample()
    finally:
        work.remove()


def _readable_sample(
    lifecycle: _SampleLifecycle, done: CompletedExport, settings: Settings
) -> Sample:
    """The sample's first rows; an unreadable file is downloaded again (or the export
    created again), as in a sync, up to MAX_INVALID_DOWNLOADS reads in all."""
    unreadable = 0
    while True:
        try:
            return Sample.of(
                first_rows(done.path, settings.result_format, settings.schema_sample_rows)
            )
        except InvalidExport as exc:
            unreadable += 1
            if unreadable >= MAX_INVALID_DOWNLOADS:
                raise DownloadError(
                    f"The sample export of {done.window} was unreadable {unreadable} times "
                    f"({exc}). What to do: run discovery again later."
                ) from None
            LOGGER.warning(
                "Sample export %s is unreadable (%s); downloading it again", done.export_id, exc
            )
        again = lifecycle.fetch_again(done)
        if lifecycle.sampled is not None:  # the new download stopped early: rows read
            return lifecycle.sampled
        done = again


class _Enough(Exception):
    """Raised from the download's sink: the sample has all the rows discovery reads."""


class _SampleSink(io.RawIOBase):
    """Writes the download to ``handle`` and reads its rows as they arrive (JSON only)."""

    def __init__(self, handle: t.IO[bytes], limit: int) -> None:
        self.handle, self.limit = handle, limit
        self.feeder: RowFeeder | None = RowFeeder()
        self.sample = Sample()
        self.size = 0

    @override
    def writable(self) -> bool:
        return True

    @override
    def seek(self, offset: int, whence: int = 0) -> int:  # a retried download restarts
        self.feeder, self.sample, self.size = RowFeeder(), Sample(), 0
        return self.handle.seek(offset, whence)

    @override
    def truncate(self, size: int | None = None) -> int:
        return self.handle.truncate(size)

    @override
    def flush(self) -> None:
        self.handle.flush()

    @override
    def write(self, data: t.Any) -> int:
        self.handle.write(data)
        self.size += len(data)
        if self.feeder is not None:
            try:
                rows = self.feeder.feed(bytes(data))
            except InvalidExport:
                self.feeder = None  # read the whole file afterwards: precise errors
                return len(data)
            self.sample.add_rows(rows[: self.limit - self.sample.rows])
            if self.sample.rows >= self.limit:
                raise _Enough
        return len(data)


class _SampleLifecycle(ExportLifecycle):
    """Stops downloading the sample export once ``schema_sample_rows`` rows arrived."""

    sampled: Sample | None = None
    _samples = 0

    @override
    def download(self, url: str, export_id: str) -> tuple[Path, int]:
        if self.settings.result_format == "xlsx":  # a zip is read from its end: whole
            return super().download(url, export_id)
        self._samples += 1  # the file is named by a counter, never by the (untrusted) id
        path = self.work_dir / f"sample-{self._samples}.json"
        with path.open("wb") as handle:
            sink = _SampleSink(handle, self.settings.schema_sample_rows)
            try:
                size = self.api.download(url, t.cast("t.IO[bytes]", sink))
            except _Enough:
                self.sampled = sink.sample
                return path, sink.size
        return path, size


def _overrides(config: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    value = config.get("schema_overrides") or config.get("schema")  # "schema": deprecated
    return value if isinstance(value, dict) else {}


def _keys(config: t.Mapping[str, t.Any]) -> list[str]:
    value = config.get("primary_keys")
    return list(value) if isinstance(value, list) else []
