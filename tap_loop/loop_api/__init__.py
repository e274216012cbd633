"""The Loop API side, from the wire up:

- :mod:`~tap_loop.loop_api.retry`: one decision per answer (retry, how long, or fail),
  one transient error, waits a stopping run interrupts;
- :mod:`~tap_loop.loop_api.client`: the HTTP calls to Loop's API and the credential-free
  downloader of result URLs;
- :mod:`~tap_loop.loop_api.watchdog`: a deadline for a whole HTTP call, and a way out of
  it when the run stops (sockets shut down by one watchdog thread);
- :mod:`~tap_loop.loop_api.repository`: the one seam the lifecycle calls Loop through;
- :mod:`~tap_loop.loop_api.status`: an export's status, which knows whether it is terminal;
- :mod:`~tap_loop.loop_api.lifecycle`: one export, created, polled and downloaded;
- :mod:`~tap_loop.loop_api.pipeline`: exports in flight together, results in window order;
- :mod:`~tap_loop.loop_api.windows`, :mod:`~tap_loop.loop_api.inflight`,
  :mod:`~tap_loop.loop_api.metrics`: time windows, the identity of an export in flight,
  METRIC messages.

May import: core, config.
"""
