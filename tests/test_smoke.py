from tests.conftest import HUKOU


def test_smoke(actors):
    key = actors.request("civil.clerk", **HUKOU)
    st = actors.status(key)
    print(st)
    assert st["status"] == "running"
