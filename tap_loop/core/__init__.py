"""The foundation every layer stands on: the tap's error types, secret redaction, the
stop signal (SIGTERM/SIGINT), the Singer message writer, and the catalogue of private
singer-sdk uses (:mod:`tap_loop.core.sdk_private`).

May import: nothing of tap_loop.
"""
