"""The Loop API side: HTTP calls and their retries (:mod:`~tap_loop.loop_api.client`),
the one seam the lifecycle calls Loop through (:mod:`~tap_loop.loop_api.repository`),
an export's status (:mod:`~tap_loop.loop_api.status`) and lifecycle
(:mod:`~tap_loop.loop_api.lifecycle`), the pipeline of
exports in flight (:mod:`~tap_loop.loop_api.pipeline`), time windows, the identity of an
export in flight, and metrics.

May import: core, config.
"""
