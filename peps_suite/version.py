"""The suite's version (one place: the User-Agent, --version and the package metadata read it)."""

from __future__ import annotations

__version__ = "1.0.0"
