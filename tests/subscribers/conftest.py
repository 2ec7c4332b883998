"""Fixtures of the subscriber tests."""

import pytest

from tests.staff.helpers import log_in


@pytest.fixture
def marketing_client(app, make_staff):
    """A test client logged in as marketing staff (the import pages)."""
    client = app.test_client()
    _, email, password = make_staff("marketing")
    log_in(client, email, password)
    return client
