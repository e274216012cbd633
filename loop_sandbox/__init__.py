"""Loop API sandbox: a local fake of Loop's report-export API for tests and benchmarks.

Not part of the tap-loop wheel. See docs/sandbox.md.
"""

from __future__ import annotations

from loop_sandbox.config import SandboxConfig
from loop_sandbox.rows import count_rows, generate_rows
from loop_sandbox.sandbox import Sandbox

__all__ = ["Sandbox", "SandboxConfig", "count_rows", "generate_rows"]
