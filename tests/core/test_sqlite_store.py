"""The SQLite key -> text store behind the response and judge caches."""

from __future__ import annotations

from lingshu.core.sqlite_store import SqliteTextStore


def test_more_keys_than_one_select_holds_and_replace(tmp_path):
    store = SqliteTextStore(tmp_path / "c.sqlite", "t", "v")
    store.put_many((f"k{i}", f"v{i}") for i in range(1200))  # three SELECT chunks of 500
    store.put_many([("k7", "new")])
    got = store.get_many([f"k{i}" for i in range(1200)] + ["k7", "missing"])
    assert len(got) == 1200 and got["k7"] == "new" and got["k1199"] == "v1199"
    assert "missing" not in got and len(store) == 1200
    store.close()


def test_two_tables_share_one_file_and_survive_reopening(tmp_path):
    path = tmp_path / "sub" / "c.sqlite"  # the folder is created
    a, b = SqliteTextStore(path, "responses", "response"), SqliteTextStore(path, "judgements", "answer")
    a.put_many([("x", "from a")])
    b.put_many([("x", "from b")])
    a.close()
    b.close()
    assert SqliteTextStore(path, "responses", "response").get_many(["x"]) == {"x": "from a"}
    assert SqliteTextStore(path, "judgements", "answer").get_many(["x"]) == {"x": "from b"}
