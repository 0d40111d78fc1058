"""Fixtures of the Apple silicon tests (registered in tests/conftest.py), shared by
tests/test_apple_silicon.py and the simulated macOS run's tests/platforms/simulated_apple_checks.py."""

from __future__ import annotations

import pytest

from carbon_magic.core.meters import apple_powermetrics


@pytest.fixture
def patient_powermetrics(monkeypatch):
    """A loaded test machine may take seconds to start the fake powermetrics."""
    monkeypatch.setattr(apple_powermetrics, "FIRST_SAMPLE_TIMEOUT_S", 120.0)
