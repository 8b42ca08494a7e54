"""The JSON Schema of the report (``kdoctor.dev/report/v1``), shipped inside the package."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, cast

__all__ = ["REPORT_SCHEMA_FILE", "load_report_schema"]

REPORT_SCHEMA_FILE = "report.schema.json"


@lru_cache(maxsize=1)
def _schema_text() -> str:
    return resources.files(__name__).joinpath(REPORT_SCHEMA_FILE).read_text(encoding="utf-8")


def load_report_schema() -> dict[str, Any]:
    """The report's JSON Schema (draft 2020-12) as a fresh dict the caller may modify."""
    return cast(dict[str, Any], json.loads(_schema_text()))
