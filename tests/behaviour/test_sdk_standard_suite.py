"""singer-sdk's standard tap tests, run against a Loop sandbox over real HTTP."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from loop_sandbox import Sandbox
from tap_loop.tap import TapLoop
from tests.helpers import DAY, EPOCH_2026_11_01, TOKEN, iso

# The standard suite needs its config when the class is built, so this module starts
# one sandbox for itself at import and stops it when the test process exits.
_SANDBOX = Sandbox(token=TOKEN, processing_seconds=0.1, rows_per_day=48, seed=3)
_SANDBOX.start()
atexit.register(_SANDBOX.stop)

SAMPLE_CONFIG = {
    "api_token": TOKEN,
    "api_url": _SANDBOX.api_url,
    "start_date": iso(EPOCH_2026_11_01),
    "end_date": iso(EPOCH_2026_11_01 + 2 * DAY),
    "poll_interval_seconds": 0.05,
    "schema_sample_days": 1,
}

TestTapLoop = get_tap_test_class(
    tap_class=TapLoop,
    config=SAMPLE_CONFIG,
    suite_config=SuiteConfig(max_records_limit=120),
)
