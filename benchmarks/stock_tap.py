"""A stock singer-sdk tap for the same export: loads the JSON whole (response.json()) and
emits with singer-sdk's defaults (RECURSIVE type conformance, the standard writer).
This is what a straightforward singer-sdk implementation would do."""

from __future__ import annotations

import json
import sys
import time

import requests
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from typing_extensions import override

with open(sys.argv.pop()) as _schema_file:  # the inferred schema: no field is dropped
    SCHEMA = json.load(_schema_file)


class StockReport(Stream):
    name = "report"
    schema = SCHEMA

    @override
    def get_records(self, context):
        cfg = self.config
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {cfg['api_token']}"
        export = session.post(
            f"{cfg['api_url']}/api/v1/report/export",
            json={"start": cfg["start"], "end": cfg["end"], "resultFormat": "Json"},
        ).json()
        while True:
            time.sleep(0.05)
            status = session.get(f"{cfg['api_url']}/api/v1/report/exports/{export['id']}").json()
            if status["status"] == "Completed":
                break
        yield from requests.get(status["url"]).json()


class StockTap(Tap):
    """Stock singer-sdk tap (benchmark baseline)."""

    name = "tap-stock"
    config_jsonschema = th.PropertiesList(
        th.Property("api_token", th.StringType),
        th.Property("api_url", th.StringType),
        th.Property("start", th.IntegerType),
        th.Property("end", th.IntegerType),
    ).to_dict()

    @override
    def discover_streams(self):
        return [StockReport(self)]


if __name__ == "__main__":
    StockTap.cli()
