import pytest

from xgr import Driver


@pytest.fixture(scope="session")
def driver():
    d = Driver()
    yield d
    d.close()
