"""Fixtures shared by every test module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import PKI, TLSFiles, make_pki, make_self_signed

# Hypothesis profiles, chosen with HYPOTHESIS_PROFILE (default "ci"):
#   ci    fast and deterministic: at most 100 examples per property, no deadline (the machine
#         is shared and noisy), derandomized so CI never fails on a fresh random seed.
#         A test's own @settings(max_examples=...) still wins.
#   long  by hand, to hunt bugs: 20,000 examples per property (also for tests that set their
#         own max_examples; see pytest_collection_modifyitems), random seeds, no deadline.
#         HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/chat/test_properties.py
settings.register_profile(
    "ci", max_examples=100, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=20_000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under the ``long`` profile, raise every property's budget to the profile's, also for
    tests whose own ``@settings(max_examples=N)`` would otherwise keep their CI budget."""
    if PROFILE != "long":
        return
    budget = settings.get_profile("long").max_examples
    for item in items:
        test = getattr(getattr(item, "obj", None), "__func__", getattr(item, "obj", None))
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if current is not None and current.max_examples < budget:
            test._hypothesis_internal_use_settings = settings(  # type: ignore[union-attr]
                current, max_examples=budget, deadline=None)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A self-signed certificate for localhost, 127.0.0.1 and ::1 (key, cert, combined PEM)."""
    return make_self_signed(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    """A throwaway CA with a server and a client certificate (for mutual TLS)."""
    return make_pki(Path(tmp_path_factory.mktemp("pki")))
