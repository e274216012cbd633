"""The command line's extras: known failures as one line (:mod:`~tap_loop.cli.errors`)
and the first-contact report ``--diagnose`` (:mod:`~tap_loop.cli.diagnose`).

May import: core, config, results, schemas, loop_api.
"""
