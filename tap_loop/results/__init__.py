"""Reading a downloaded result file as rows: JSON streamed in chunks
(:mod:`~tap_loop.results.json_rows`), Xlsx (:mod:`~tap_loop.results.xlsx_rows`), and one
way to open either (:mod:`~tap_loop.results.open`).

May import: core.
"""
