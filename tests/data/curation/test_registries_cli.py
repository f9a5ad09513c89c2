"""The curation area's extension points are registries, listed by `lingshu data ...` from
the registries themselves; recipes resolve by name and take key=value overrides."""

from __future__ import annotations

import json

import pytest
from curation_helpers import write_jsonl, write_recipe
from typer.testing import CliRunner

import lingshu.data as face
from lingshu.cli.main import app
from lingshu.core.errors import UserError
from lingshu.data.curate import EXECUTORS, READERS, load_recipe, run_recipe, shipped_recipes
from lingshu.data.curate.executors import Executor, make_executor, register_executor
from lingshu.data.curate.shards import run_job

runner = CliRunner()


def test_list_commands_come_from_the_registries():
    res = runner.invoke(app, ["data", "readers"])
    assert res.exit_code == 0, res.output
    names = [line.split(":")[0] for line in res.output.splitlines()]
    assert names == ["auto", *READERS.names()]
    assert READERS.names() == ["benchmark", "csv", "dicom_folder", "hf_disk", "image_folder",
                               "json", "jsonl", "parquet", "webdataset"]
    res = runner.invoke(app, ["data", "executors"])
    assert res.exit_code == 0, res.output
    heads = [line.split(":")[0] for line in res.output.splitlines() if not line.startswith(" ")]
    assert heads == EXECUTORS.names() == ["local", "ray"]
    assert "    gpus_per_actor = 0.0" in res.output
    res = runner.invoke(app, ["data", "recipes"])
    assert res.exit_code == 0, res.output
    assert [line.split()[0] for line in res.output.splitlines()] == \
        ["demo", "medical-multimodal", "medical-text", "synthesis"] == list(shipped_recipes())
    res = runner.invoke(app, ["data", "recipes", "--json"])
    listed = json.loads(res.output)
    assert list(listed) == list(shipped_recipes())
    assert listed["demo"]["path"] == str(shipped_recipes()["demo"])
    assert listed["demo"]["description"] and "\n" not in listed["demo"]["description"]


def test_ops_listing_shows_factory_defaults_not_pydantic_internals():
    res = runner.invoke(app, ["data", "ops"])
    assert res.exit_code == 0, res.output
    assert "PydanticUndefined" not in res.output
    # the llm default of the four model-calling synthesis ops is built by a factory
    # (synth_caption, synth_vqa_self_instruct, synth_cot, synth_ocr): its value is shown
    assert res.output.count("    llm = LlmSpec(backend='dummy'") == 4


def test_unknown_executor_and_reader_are_one_line_errors(tmp_path):
    with pytest.raises(UserError, match=r"unknown executor 'rey'; expected one of: local, ray"):
        make_executor("rey", [])
    with pytest.raises(UserError, match=r"executor local: address: unknown key"):
        make_executor("local", [], address="auto")
    write_jsonl(tmp_path / "a.jsonl", [{"question": "q", "answer": "a"}])
    r = write_recipe(tmp_path / "r.yaml", [{"name": "a", "path": "a.jsonl", "format": "jsonn"}],
                     [])
    with pytest.raises(UserError, match=r"inputs\.0\.format: unknown input format 'jsonn'; "
                                        r"did you mean 'json'\?"):
        load_recipe(r)
    res = runner.invoke(app, ["data", "run", "--recipe", str(r), "--ray-address", "auto"])
    assert res.exit_code != 0
    assert "--ray-address applies to another executor, not 'local'" in str(res.exception)


def test_a_registered_executor_runs_the_same_shard_jobs(tmp_path):
    """A new engine is one registered class; the runner hands it the shard jobs."""
    seen: list[int | str] = []

    class Recording(Executor):
        """Runs jobs in order, recording the segment of each."""

        def run(self, jobs):
            for j in jobs:
                seen.append(j.get("kind", j.get("segment")))
                run_job(j)

    register_executor("recording-test")(Recording)
    try:
        write_jsonl(tmp_path / "a.jsonl", [{"id": str(i), "question": f"question {i}",
                                            "answer": "a"} for i in range(7)])
        r = write_recipe(tmp_path / "r.yaml", [{"name": "a", "path": "a.jsonl"}],
                         [{"op": "text_dedup"}, {"op": "language_id", "min_chars": 1000}],
                         shard_size=3)
        res = run_recipe(load_recipe(r), executor="recording-test")
    finally:
        EXECUTORS._items.pop("recording-test")
    # the read step (one read_piece job: the input is one piece; then its id numbering,
    # a job per hash partition, one per shard), 3 shards
    # through 2 segments (cut after text_dedup), text_dedup's decision between
    # them (its exact-hash column and 9 LSH bands for 128 permutations at 0.8, one
    # components job, a resolve per partition, a gather per shard), then each shard's write
    assert seen == ["read_piece", *["ids"] * 3, *["ids_apply"] * 3, 0, 0, 0, *["bands"] * 10,
                    "components", *["resolve"] * 3,
                    *["gather"] * 3, 1, 1, 1, "write", "write", "write"]
    assert (res.kept, res.excluded) == (7, 0)


def test_shipped_name_and_overrides(tmp_path):
    r = load_recipe("demo", [f"output.dir={tmp_path / 'o'}", "ops.3.threshold=2",
                             "inputs.0.limit=5"])
    assert r.output.dir == tmp_path / "o"
    assert r.ops[3].op == "image_dedup" and r.ops[3].params["threshold"] == 2
    assert r.inputs[0].limit == 5
    with pytest.raises(UserError, match=r"recipe op #4 \(image_dedup\): parameter threshold"):
        load_recipe("demo", ["ops.3.threshold=-1"])
    with pytest.raises(UserError, match="no shipped recipe of that name; did you mean .demo.?"):
        load_recipe("demoo")


def test_cli_run_by_name_with_set_and_positional_overrides(tmp_path):
    out = tmp_path / "o"
    res = runner.invoke(app, ["data", "run", "--recipe", "demo", f"output.dir={out}",
                              "--set", "inputs.0.limit=6", "--set", "inputs.1.limit=4",
                              "--set", "output.plots=false"])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    # read counts are what the readers gave (the limits), not the template VQA children
    assert {k: v["read"] for k, v in s["sources"].items()} == {"vqa-rad-train": 6,
                                                               "rad-images": 4}
    rows = [json.loads(line) for p in sorted((out / "data").glob("*.jsonl"))
            for line in p.read_text().splitlines()]
    children = sum(1 for r in rows if r["meta"].get("synthesis") == "synth_vqa_template")
    assert children > 0 and s["synthesised"] == children
    # read + synthesised = kept + excluded, in total and per source
    assert s["read"] + s["synthesised"] == s["kept"] + s["excluded"] == 10 + children
    for v in s["sources"].values():
        assert v["read"] + v["synthesised"] == v["kept"] + v["excluded"]


def test_the_area_face_reexports_what_other_areas_use():
    from lingshu.data.curate.recipe import parse_recipe
    from lingshu.data.curate.runner import run_recipe as run
    from lingshu.data.prepare import prepare_iu_xray

    assert face.parse_recipe is parse_recipe and face.run_recipe is run
    assert face.prepare_iu_xray is prepare_iu_xray
    with pytest.raises(AttributeError):
        _ = face.nothing_here
