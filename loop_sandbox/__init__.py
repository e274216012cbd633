"""Loop API sandbox: a local fake of Loop's report-export API for tests and benchmarks.

Not part of the tap-loop wheel. See docs/sandbox.md.

Layers, lowest first; each module imports only modules named before it:

1. parts: ``pools``, ``rows``, ``config``, ``validation``, ``signing``, ``faults``,
   ``recorder``, ``xlsx``, ``render``, ``exports`` (rows, options, faults, export records).
2. ``state``: ``SandboxState``, what the handlers see of a sandbox (options, faults,
   exports, request log); it knows no server.
3. ``httpcore``: the HTTP server and base handler; its ``app`` is a ``SandboxState``.
4. handlers: ``fault_actions``, ``control``, then ``api`` and ``download``.
5. ``sandbox``: ``Sandbox``, the state plus both servers (start/stop); then ``cli``.
"""

from __future__ import annotations

from loop_sandbox.config import SandboxConfig
from loop_sandbox.rows import count_rows, generate_rows
from loop_sandbox.sandbox import Sandbox

__all__ = ["Sandbox", "SandboxConfig", "count_rows", "generate_rows"]
