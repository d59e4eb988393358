"""Fixtures shared by every test module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import TLSFiles, make_self_signed

# Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (default "ci"):
#   ci    fast and deterministic: at most 100 examples per property, no deadline (the machine
#         is shared and noisy), derandomized so CI never fails on a fresh random seed.
#         A test's own @settings(max_examples=...) still wins.
#   long  by hand, to hunt bugs: 20,000 examples per property, random seeds, no deadline.
#         HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests -k "hypothesis or fuzz or split"
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=20_000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A self-signed certificate for localhost, 127.0.0.1 and ::1 (key, cert, combined PEM)."""
    return make_self_signed(Path(tmp_path_factory.mktemp("tls")))
