"""The raw limit: create + poll + download one export, orjson-parse it whole, and write
Singer RECORD lines with orjson. No singer-sdk, no checks, cyclic GC off: what the
hardware allows (memory grows with the export)."""

from __future__ import annotations

import gc
import sys

import orjson
import requests
from _common import completed_export_url

url = completed_export_url(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
data = requests.get(url).content
gc.disable()  # the upper bound: no cyclic GC while millions of dicts are alive
rows = orjson.loads(data)
del data
out = sys.stdout.buffer
for row in rows:
    out.write(b'{"type":"RECORD","stream":"report","record":' + orjson.dumps(row) + b"}\n")
out.flush()
print(len(rows), file=sys.stderr)
