"""Scale tests start worker processes and compare against PostgreSQL's clock: they run on
the real clock (overrides the frozen one of tests/conftest.py) and only use times relative
to it."""

import pytest


@pytest.fixture(autouse=True)
def frozen_clock():
    yield None
