"""The raw limit: create + poll + download one export, orjson-parse it whole, and write
Singer RECORD lines with orjson. No singer-sdk, no checks, cyclic GC off: what the
hardware allows (memory grows with the export)."""

from __future__ import annotations

import gc
import sys
import time

import orjson
import requests

api_url, token, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
session = requests.Session()
session.headers["Authorization"] = f"Bearer {token}"
export = session.post(
    f"{api_url}/api/v1/report/export", json={"start": start, "end": end, "resultFormat": "Json"}
).json()
while True:
    time.sleep(0.05)
    status = session.get(f"{api_url}/api/v1/report/exports/{export['id']}").json()
    if status["status"] == "Completed":
        break
data = requests.get(status["url"]).content
gc.disable()  # the upper bound: no cyclic GC while millions of dicts are alive
rows = orjson.loads(data)
del data
out = sys.stdout.buffer
for row in rows:
    out.write(b'{"type":"RECORD","stream":"report","record":' + orjson.dumps(row) + b"}\n")
out.flush()
print(len(rows), file=sys.stderr)
