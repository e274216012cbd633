"""Command line: ``python -m loop_sandbox [options]``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

import orjson

from loop_sandbox.sandbox import Sandbox


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m loop_sandbox",
        description="Fake Loop report-export API (and download host) on 127.0.0.1.",
    )
    p.add_argument("--port", type=int, default=0, help="API port (0 = free port)")
    p.add_argument("--download-port", type=int, default=0, help="download host port (0 = free)")
    p.add_argument("--token", default="test-token", help="accepted bearer token")
    p.add_argument(
        "--processing-seconds",
        type=float,
        default=2.0,
        help="seconds an export stays Processing before it is Completed (default 2)",
    )
    p.add_argument(
        "--rows-per-day",
        type=int,
        default=96,
        help="rows the generator makes per day (default 96)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the row generator: the same seed gives the same rows (default 0)",
    )
    p.add_argument("--url-ttl", type=float, default=600, help="signed URL lifetime, seconds")
    p.add_argument(
        "--max-range-days",
        type=float,
        default=None,
        metavar="DAYS",
        help="answer 400 'Requested time range is too large' to longer exports (default: none)",
    )
    p.add_argument(
        "--drift-after",
        type=int,
        default=None,
        metavar="EPOCH",
        help="rows at or after this epoch second carry an extra sentimentScore field "
        "(schema drift; default: never)",
    )
    p.add_argument(
        "--allow-impersonation",
        action="append",
        default=None,
        metavar="EMAIL",
        help="allowed X-Impersonate-User value (repeatable; default boss@example.com)",
    )
    p.add_argument(
        "--reissue-expired-urls",
        action="store_true",
        help="a poll after URL expiry returns Completed with a fresh URL",
    )
    p.add_argument(
        "--unknown-export-status",
        type=int,
        choices=(400, 404, 410),
        default=404,
        help="answer for an export id the sandbox does not know (400: 'Unknown export')",
    )
    p.add_argument(
        "--json-bom", action="store_true", help="JSON results start with a UTF-8 byte order mark"
    )
    p.add_argument(
        "--empty-as-zero-bytes",
        action="store_true",
        help="an export without rows is a 0-byte file instead of []",
    )
    p.add_argument(
        "--big-integers",
        action="store_true",
        help="rows carry bigCounter, an integer at or beyond the edges of 64 bits",
    )
    p.add_argument(
        "--shuffled-keys",
        action="store_true",
        help="each row's keys (nested objects' too) come in an order of their own",
    )
    p.add_argument(
        "--credential-query",
        action="store_true",
        help="signed URLs also carry sig, X-Amz-Credential, X-Amz-Security-Token, "
        "X-Amz-Signature and token query values; a refused download quotes its query",
    )
    p.add_argument(
        "--edge-values",
        action="store_true",
        help='every fourth row holds a lone surrogate escape ("Hello \\ud83d") and 1e400',
    )
    p.add_argument(
        "--custom-fields",
        type=int,
        default=0,
        metavar="N",
        help="rows carry customFields, an object of N keys no other row has (default 0)",
    )
    p.add_argument(
        "--deep-nesting",
        type=int,
        default=0,
        metavar="N",
        help="rows carry deep, objects nested N levels (default 0: none)",
    )
    p.add_argument(
        "--tap-named-fields",
        action="store_true",
        help="rows carry Loop fields named like the tap's (_loop_window_end, ...)",
    )
    p.add_argument(
        "--warehouse-shapes",
        action="store_true",
        help="rows carry long decimals, integers beyond 64 bits, arrays of arrays, ... "
        "(docs/sandbox.md)",
    )
    p.add_argument(
        "--numbers-between",
        type=int,
        nargs=2,
        default=None,
        metavar=("FROM", "UNTIL"),
        help="with --warehouse-shapes: countA is a number at FROM <= t < UNTIL (epochs)",
    )
    p.add_argument("--workdir", default=None, help="where rendered results go (default tmp)")
    p.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Start the sandbox, print one JSON line with its URLs, serve until SIGINT/SIGTERM."""
    args = parse_args(argv)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    sandbox = Sandbox(
        token=args.token,
        processing_seconds=args.processing_seconds,
        url_ttl_seconds=args.url_ttl,
        rows_per_day=args.rows_per_day,
        seed=args.seed,
        allowed_impersonation=(
            {"boss@example.com"} if args.allow_impersonation is None else args.allow_impersonation
        ),
        max_range_days=args.max_range_days,
        drift_after=args.drift_after,
        port=args.port,
        download_port=args.download_port,
        workdir=args.workdir,
        log=None if args.quiet else log,
        reissue_expired_urls=args.reissue_expired_urls,
        unknown_export_status=args.unknown_export_status,
        json_bom=args.json_bom,
        empty_as_zero_bytes=args.empty_as_zero_bytes,
        big_integers=args.big_integers,
        shuffled_keys=args.shuffled_keys,
        credential_query=args.credential_query,
        edge_values=args.edge_values,
        custom_fields=args.custom_fields,
        deep_nesting=args.deep_nesting,
        tap_named_fields=args.tap_named_fields,
        warehouse_shapes=args.warehouse_shapes,
        numbers_between=args.numbers_between,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sandbox.start()
    try:
        info = {
            "api_url": sandbox.api_url,
            "download_url_base": sandbox.download_url_base,
            "token": args.token,
        }
        sys.stdout.write(orjson.dumps(info).decode() + "\n")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0
