"""The streaming limit: the same export downloaded to a file and parsed in chunks with
orjson (tap-loop's own reader), RECORD lines written with orjson. No singer-sdk, no
schema checks: what a streaming implementation with flat memory can reach."""

from __future__ import annotations

import sys
import tempfile

import orjson
import requests
from _common import completed_export_url

from tap_loop.results.json_rows import iter_json_rows

url = completed_export_url(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
count = 0
with tempfile.TemporaryFile() as spool:
    with requests.get(url, stream=True) as response:
        for chunk in response.iter_content(1 << 20):
            spool.write(chunk)
    spool.seek(0)
    out = sys.stdout.buffer
    for row in iter_json_rows(spool):
        out.write(b'{"type":"RECORD","stream":"report","record":' + orjson.dumps(row) + b"}\n")
        count += 1
    out.flush()
print(count, file=sys.stderr)
