"""Fixtures for the live board's tests."""

from __future__ import annotations

import pytest

from tests.helpers import sign_up


@pytest.fixture
async def user(client):
    """A signed-up, verified user (ada@example.com), logged in on `client`."""
    await sign_up(client, time_zone="Europe/Berlin")
    return client
