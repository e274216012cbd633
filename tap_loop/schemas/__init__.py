"""Schemas: inference from a sample (:mod:`~tap_loop.schemas.inference`,
:mod:`~tap_loop.schemas.sample`), the row check and typed rows
(:mod:`~tap_loop.schemas.row_check`, :mod:`~tap_loop.schemas.typed_rows`), the stream's
schema with the tap's own fields (:mod:`~tap_loop.schemas.build`) and the drift tracker
(:mod:`~tap_loop.schemas.tracker`).

May import: core, config, results.
"""
