"""The read step numbers repeated ids in the workers (``read_step.py``), with nothing per
record on the driver, and gives the ids the reader's single table gave: ``q7``, ``q7#1``
... per input, in read order."""

from __future__ import annotations

import random

import pytest
from curation_helpers import write_jsonl, write_recipe

from lingshu.data.curate import load_recipe
from lingshu.data.curate.read_step import read_shards
from lingshu.data.curate.readers import read_input
from lingshu.data.curate.record import Record
from lingshu.data.curate.shards import run_job
from lingshu.data.curate.stage_files import read_stage, stage_file


def _run_all(jobs):
    for j in jobs:
        run_job(j)


def _recipe(tmp_path, inputs: dict[str, list[str]], shard_size: int):
    specs = []
    for name, keys in inputs.items():
        fname = f"{len(specs)}.jsonl"
        write_jsonl(tmp_path / fname, [{"id": k, "question": f"Q {j}?", "answer": "A."}
                                       for j, k in enumerate(keys)])
        specs.append({"name": name, "path": fname})
    return load_recipe(write_recipe(tmp_path / "r.yaml", specs, [], shard_size=shard_size))


def _ids(read_dir, n) -> list[str]:
    return [r["id"] for i in range(n) for r in read_stage(stage_file(read_dir, i))[0]]


def _single_table(recipe, tmp_path) -> list[str]:
    """The reference: the reader numbering with one table per input (the old read)."""
    return [item.id for spec in recipe.inputs
            for item in read_input(spec, tmp_path / "w", recipe.base_dir)
            if isinstance(item, Record)]


def test_hand_worked_ids(tmp_path):
    recipe = _recipe(tmp_path, {"a": ["q1", "q2", "q1", "q1", "q3", "q2"], "b": ["q1", "q1"]},
                     shard_size=2)
    read_dir, n = read_shards(recipe, tmp_path / "work", _run_all)
    assert n == 4
    assert _ids(read_dir, n) == ["a:q1", "a:q2", "a:q1#1", "a:q1#2", "a:q3", "a:q2#1",
                                 "b:q1", "b:q1#1"]


def test_equal_to_the_single_table_on_repeats_across_shards(tmp_path):
    """Many repeats spread over 23 shards and 16 partitions, per-input numbering, a key
    that spells another input's id (``a`` + ``b:c`` and ``a:b`` + ``c``), a literal
    ``x#1`` key beside a repeated ``x``."""
    rng = random.Random(0)
    keys = [f"k{rng.randrange(300)}" for _ in range(900)] + ["x", "x", "x#1", "b:c"]
    recipe = _recipe(tmp_path, {"a": keys, "a:b": ["c", "c", *keys[:100]]}, shard_size=44)
    read_dir, n = read_shards(recipe, tmp_path / "work", _run_all)
    got = _ids(read_dir, n)
    assert n == 23 and got == _single_table(recipe, tmp_path)
    assert got.count("a:b:c") == 2 and "a:x#1" in got  # as the single table gave them
    assert len(set(got)) < len(got) == 1006
    # control: without the numbering (the ids as the driver reads them) they differ
    unnumbered = [item.id for spec in recipe.inputs
                  for item in read_input(spec, tmp_path / "w", recipe.base_dir, number_ids=False)
                  if isinstance(item, Record)]
    assert sum(a != b for a, b in zip(unnumbered, got, strict=True)) > 500
    assert not list((read_dir / "raw").glob("shard-*"))  # every raw file became its shard


def test_every_hash_colliding_still_gives_the_same_ids(tmp_path, monkeypatch):
    """The hash only partitions; equal hashes are told apart by the ids themselves."""
    import lingshu.data.curate.read_step as read_step

    monkeypatch.setattr(read_step, "key_hash", lambda rid: 7)
    recipe = _recipe(tmp_path, {"a": ["p", "q", "p", "r", "q", "p"]}, shard_size=4)
    read_dir, n = read_shards(recipe, tmp_path / "work", _run_all)
    assert _ids(read_dir, n) == ["a:p", "a:q", "a:p#1", "a:r", "a:q#1", "a:p#2"]


def test_a_read_stopped_after_any_job_resumes_to_the_same_ids(tmp_path):
    recipe = _recipe(tmp_path, {"a": ["q1", "q2", "q1"] * 5}, shard_size=3)
    want = [f"a:q{(1, 2, 1)[i % 3]}" + (f"#{c}" if c else "") for i, c in
            enumerate(_counts([(1, 2, 1)[i % 3] for i in range(15)]))]
    for stop in range(1, 9):
        work = tmp_path / f"work{stop}"
        done: list[int] = []

        def run(jobs, stop=stop, done=done):
            for j in jobs:
                if len(done) == stop:
                    raise KeyboardInterrupt
                run_job(j)
                done.append(1)

        with pytest.raises(KeyboardInterrupt):
            read_shards(recipe, work, run)
        read_dir, n = read_shards(recipe, work, _run_all)
        assert _ids(read_dir, n) == want, stop


def _counts(keys: list[int]) -> list[int]:
    seen: dict[int, int] = {}
    out = []
    for k in keys:
        out.append(seen.get(k, 0))
        seen[k] = out[-1] + 1
    return out
