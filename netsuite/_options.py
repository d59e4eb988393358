"""Coercions for ``twisted.python.usage.Options`` parameters shared by every plugin.

Each raises :class:`ValueError` on bad input, which ``usage.Options`` turns into a usage
error naming the option.
"""

from __future__ import annotations

__all__ = ["non_negative_float", "non_negative_int", "positive_float", "positive_int"]


def positive_int(value: str) -> int:
    """An integer greater than zero."""
    number = int(value)
    if number <= 0:
        raise ValueError(f"{value} is not a positive integer")
    return number


positive_int.coerceDoc = "A positive integer."  # type: ignore[attr-defined]


def non_negative_int(value: str) -> int:
    """An integer of zero or more."""
    number = int(value)
    if number < 0:
        raise ValueError(f"{value} is negative")
    return number


non_negative_int.coerceDoc = "An integer, 0 or more."  # type: ignore[attr-defined]


def positive_float(value: str) -> float:
    """A finite number greater than zero."""
    number = float(value)
    if not 0 < number < float("inf"):
        raise ValueError(f"{value} is not a positive number")
    return number


positive_float.coerceDoc = "A positive number."  # type: ignore[attr-defined]


def non_negative_float(value: str) -> float:
    """A finite number of zero or more."""
    number = float(value)
    if not 0 <= number < float("inf"):
        raise ValueError(f"{value} is not a number of zero or more")
    return number


non_negative_float.coerceDoc = "A number, 0 or more."  # type: ignore[attr-defined]
