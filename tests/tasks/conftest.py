"""Fixtures for the board's server tests."""

from __future__ import annotations

import pytest

from tests.helpers import sign_up


@pytest.fixture
async def user(client):
    """A signed-up, verified user in Berlin, logged in on `client`."""
    await sign_up(client, time_zone="Europe/Berlin")
    return client
