"""Coercions for option values, shared by every plugin and every ``netsuite`` subcommand.

Each raises :class:`BadValue` on bad input: a :class:`ValueError`, which
``twisted.python.usage.Options`` reports as a usage error naming the option, and an
:class:`argparse.ArgumentTypeError`, which argparse reports with this message as it is.
"""

from __future__ import annotations

import argparse

__all__ = [
    "BadValue",
    "non_negative_float",
    "non_negative_int",
    "positive_float",
    "positive_int",
]


class BadValue(ValueError, argparse.ArgumentTypeError):
    """An option value that does not fit; the message says why."""


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadValue(f"{value!r} is not an integer") from None


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise BadValue(f"{value!r} is not a number") from None


def positive_int(value: str) -> int:
    """An integer greater than zero."""
    number = _int(value)
    if number <= 0:
        raise BadValue(f"{value} is not a positive integer")
    return number


positive_int.coerceDoc = "A positive integer."  # type: ignore[attr-defined]


def non_negative_int(value: str) -> int:
    """An integer of zero or more."""
    number = _int(value)
    if number < 0:
        raise BadValue(f"{value} is negative")
    return number


non_negative_int.coerceDoc = "An integer, 0 or more."  # type: ignore[attr-defined]


def positive_float(value: str) -> float:
    """A finite number greater than zero."""
    number = _float(value)
    if not 0 < number < float("inf"):
        raise BadValue(f"{value} is not a positive number")
    return number


positive_float.coerceDoc = "A positive number."  # type: ignore[attr-defined]


def non_negative_float(value: str) -> float:
    """A finite number of zero or more."""
    number = _float(value)
    if not 0 <= number < float("inf"):
        raise BadValue(f"{value} is not a number of zero or more")
    return number


non_negative_float.coerceDoc = "A number, 0 or more."  # type: ignore[attr-defined]
