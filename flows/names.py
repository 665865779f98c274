"""Names and defaults of the flow and its deployment, apart from the Prefect objects, so that
the CLI can show them in `--help` without importing Prefect."""

from __future__ import annotations

FLOW_NAME = "nightly-ingest"
DEPLOYMENT_NAME = "nightly"
FULL_NAME = f"{FLOW_NAME}/{DEPLOYMENT_NAME}"
# 02:00 UTC: after the evening's stories are up on every time zone from the Americas to Europe,
# and before people in Europe read the morning's tables.
DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "UTC"
