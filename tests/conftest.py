"""Fixtures shared by every test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import TLSFiles, make_self_signed


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A self-signed certificate for localhost, 127.0.0.1 and ::1 (key, cert, combined PEM)."""
    return make_self_signed(Path(tmp_path_factory.mktemp("tls")))
