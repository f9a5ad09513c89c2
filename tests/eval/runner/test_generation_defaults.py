"""Per-benchmark generation defaults (issue 21): each benchmark declares max_new_tokens and
stop strings, the runner asks the benchmark, and a run's own settings override them.

The values are pinned: they are part of every response-cache key, so a change must be a
deliberate one (report benchmarks 512, measured in ``_reports.ReportBenchmark``; every
other benchmark keeps the kit's former 256 and no stop strings, so its cached answers
still hit)."""

from __future__ import annotations

import json

import pytest

from lingshu.eval import BENCHMARKS, EvalConfig, GenerationParams, get_benchmark, run_eval
from lingshu.inference import Backend, Response

REPORTS = {"iu-xray", "mimic-cxr", "chexpert-plus"}


@pytest.mark.parametrize("name", BENCHMARKS.names())
def test_each_benchmark_declares_its_defaults(name):
    expected = 512 if name in REPORTS else 256
    assert get_benchmark(name).generation_defaults() == {"max_new_tokens": expected, "stop": ()}


def test_unchanged_benchmarks_keep_their_cache_key_settings():
    """With nothing given, a short-answer benchmark is run with exactly the settings every
    cached answer was made with before this change (GenerationParams' own defaults)."""
    cfg = EvalConfig(benchmarks=["vqa-rad"], data_dir="/d")
    assert cfg.generation_for(get_benchmark("vqa-rad")).to_dict() == {
        "max_new_tokens": 256, "temperature": 0.0, "top_p": 1.0, "seed": 0, "stop": [],
    }  # fmt: skip


def test_run_settings_override_the_benchmark():
    iu = get_benchmark("iu-xray")
    assert EvalConfig(benchmarks=["iu-xray"], data_dir="/d").generation_for(iu).max_new_tokens == 512
    cfg = EvalConfig(benchmarks=["iu-xray"], data_dir="/d",
                     generation={"max_new_tokens": 64, "stop": ["\n\n"]})  # fmt: skip
    got = cfg.generation_for(iu)
    assert (got.max_new_tokens, got.stop, got.temperature) == (64, ("\n\n",), 0.0)
    # a GenerationParams built in code (training's evaluation, the demo) fixes what it holds
    code = EvalConfig(benchmarks=["iu-xray"], data_dir="/d", generation=GenerationParams(max_new_tokens=16))
    assert code.generation_for(iu).max_new_tokens == 16


def test_saved_config_keeps_what_was_given(tmp_path):
    cfg = EvalConfig(benchmarks=["iu-xray"], data_dir="/d", generation={"temperature": 0.5})
    saved = json.loads(cfg.model_dump_json())
    assert saved["generation"] == {"temperature": 0.5}
    back = EvalConfig.model_validate(saved)
    assert back.identity_hash() == cfg.identity_hash()
    got = back.generation_for(get_benchmark("iu-xray"))
    assert (got.max_new_tokens, got.temperature) == (512, 0.5)
    # a run saved before per-benchmark defaults lists every setting: it resumes as it ran
    old = {**saved, "generation": {"max_new_tokens": 256, "temperature": 0.0, "top_p": 1.0,
                                   "seed": 0, "stop": []}}  # fmt: skip
    assert EvalConfig.model_validate(old).generation_for(get_benchmark("iu-xray")).max_new_tokens == 256


class RecordingBackend(Backend):
    name = "recording"

    def __init__(self):
        self.params = []

    def fingerprint(self):
        return {"name": "recording"}

    def generate(self, requests, params):
        self.params.append(params)
        return [Response(text="A") for _ in requests]


@pytest.mark.parametrize(("given", "expected"), [({}, 256), ({"max_new_tokens": 7}, 7)])
def test_the_runner_asks_the_benchmark(data_dir, tmp_path, given, expected):
    backend = RecordingBackend()
    cfg = EvalConfig(benchmarks=["medqa-usmle"], data_dir=data_dir, backend="dummy", limit=3,
                     use_cache=False, bootstrap_resamples=100, generation=given)  # fmt: skip
    run_eval(cfg, tmp_path / "run", backend=backend, progress=False)
    assert {p.max_new_tokens for p in backend.params} == {expected}


def test_cli_override_beats_the_benchmark(tmp_path):
    from lingshu.cli.eval import build_config

    kw = {k: None for k in ("backend_opt", "split", "overrides", "set_")}
    cfg = build_config(config=None, benchmarks=["iu-xray"], data_dir=tmp_path, max_new_tokens=40, **kw)
    assert cfg.generation_for(get_benchmark("iu-xray")).max_new_tokens == 40
    cfg = build_config(config=None, benchmarks=["iu-xray"], data_dir=tmp_path, **kw)
    assert cfg.model_dump(mode="json")["generation"] == {}
    assert cfg.generation_for(get_benchmark("iu-xray")).max_new_tokens == 512
