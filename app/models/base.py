"""Shared column helpers."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware in UTC (SQLModel's datetime columns store and return UTC)."""
    return datetime.now(UTC)
