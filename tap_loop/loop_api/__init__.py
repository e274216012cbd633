"""The Loop API side: HTTP calls (:mod:`~tap_loop.loop_api.client`) and their retries
(:mod:`~tap_loop.loop_api.retry`), an export's status and lifecycle
(:mod:`~tap_loop.loop_api.lifecycle`), the pipeline of exports in flight
(:mod:`~tap_loop.loop_api.pipeline`), time windows, the identity of an export in flight,
and metrics.

May import: core, config.
"""
