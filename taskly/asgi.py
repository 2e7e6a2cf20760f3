"""The ASGI entry point Hypercorn workers import: `taskly.asgi:app`."""

from __future__ import annotations

from taskly import create_app
from taskly.logs import configure_logging
from taskly.settings import Settings

settings = Settings.from_env()
configure_logging(settings)
app = create_app(settings)
