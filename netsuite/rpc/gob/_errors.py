"""The one error every gob codec failure raises."""

from __future__ import annotations

__all__ = ["GobError"]


class GobError(ValueError):
    """Malformed, hostile or unsupported gob data.  The stream cannot be trusted after it."""
