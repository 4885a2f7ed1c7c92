"""Read-only HTTP API (`/api/v1`), dashboard pages and their shipped assets."""

from minertrace.web.app import create_app
from minertrace.web.db import make_read_only, read_only_engine

__all__ = ["create_app", "make_read_only", "read_only_engine"]
