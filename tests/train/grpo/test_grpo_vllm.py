"""use_vllm and gradient checkpointing: the stage's fields reach TRL 1.16's GRPOConfig under
TRL's own names, contradictions are one-line errors, and a machine without vllm (this one)
says so in one line before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lingshu.core.errors import UserError
from lingshu.train.grpo import GRPOStageConfig, run_grpo_stage
from lingshu.train.grpo.stage import trl_args
from lingshu.train.grpo.vllm import vllm_installed

DATA = [{"path": "rl.jsonl"}]


def _args(tmp_path: Path, num_processes: int = 8, **fields):
    c = GRPOStageConfig(data=DATA, per_device_batch=4, **fields)
    return trl_args(c, output_dir=tmp_path, seed=0, use_cpu=True, num_processes=num_processes)


def test_colocate_maps_to_trl_fields(tmp_path: Path) -> None:
    args = _args(tmp_path, use_vllm=True, vllm_mode="colocate", vllm_gpu_memory_utilization=0.35,
                 vllm_tensor_parallel_size=2, max_prompt_length=1000, max_completion_length=300)
    assert (args.use_vllm, args.vllm_mode) == (True, "colocate")
    assert (args.vllm_gpu_memory_utilization, args.vllm_tensor_parallel_size) == (0.35, 2)
    assert args.vllm_max_model_length == 1300  # prompt + completion, not the model's 128K
    assert args.vllm_importance_sampling_correction is True


def test_server_maps_to_trl_fields(tmp_path: Path) -> None:
    args = _args(tmp_path, use_vllm=True, vllm_mode="server", vllm_server_host="10.0.0.5",
                 vllm_server_port=8123)
    assert (args.use_vllm, args.vllm_mode) == (True, "server")
    assert (args.vllm_server_host, args.vllm_server_port) == ("10.0.0.5", 8123)
    assert args.vllm_server_base_url is None  # TRL would prefer it over host/port


def test_default_generates_with_transformers(tmp_path: Path) -> None:
    assert _args(tmp_path).use_vllm is False


@pytest.mark.parametrize("on", [True, False])
def test_gradient_checkpointing_reaches_trl_both_ways(tmp_path: Path, on: bool) -> None:
    """TRL 1.16's GRPOConfig defaults checkpointing to on: the stage's value must win, under
    the new name the Trainer reads and the old alias TRL's GRPOTrainer reads."""
    args = _args(tmp_path, gradient_checkpointing=on)
    assert args.activation_checkpointing is on and args.gradient_checkpointing is on


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"vllm_mode": "server"}, "vllm_mode: set but use_vllm is not"),
        ({"vllm_tensor_parallel_size": 2}, "vllm_tensor_parallel_size: set but use_vllm is not"),
        ({"use_vllm": True, "vllm_gpu_memory_utilization": 1.2}, "less than 1"),
        ({"use_vllm": True, "vllm_mode": "local"}, "'colocate' or 'server'"),
    ],
)
def test_contradictions_are_rejected(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GRPOStageConfig(data=DATA, **fields)


def test_idle_fields_are_listed_not_refused() -> None:
    """How a vLLM recipe runs without vLLM (stages.N.use_vllm=false) or in server mode
    (stages.N.vllm_mode=server): the fields it no longer uses stay, and the dry run names them."""
    from lingshu.train.dryrun import plan
    from lingshu.train import load_recipe
    from lingshu.train.grpo.vllm import idle_vllm_fields

    c = GRPOStageConfig(data=DATA, use_vllm=False, vllm_mode="colocate", vllm_tensor_parallel_size=2)
    assert idle_vllm_fields(c) == ["vllm_mode", "vllm_tensor_parallel_size"]
    r = load_recipe("lingshu-7b", ["stages.3.vllm_mode=server", "stages.3.vllm_server_host=10.0.0.5"],
                    check_files=False)
    notes = plan(r).stages[3].notes
    assert ("not used with vllm_mode server: vllm_gpu_memory_utilization, vllm_tensor_parallel_size "
            "(give them to `trl vllm-serve`)") in notes
    assert any(n.startswith("vLLM server at 10.0.0.5:8000") for n in notes)
    assert plan(r).stages[3].memory_gib["generation"] == 0  # the server's GPUs are not these


@pytest.mark.skipif(vllm_installed(), reason="checks the machine without vllm")
def test_missing_vllm_is_one_line_before_any_load(char_model: Path, tmp_path: Path) -> None:
    config = GRPOStageConfig(data=DATA, use_vllm=True, num_generations=2, global_batch=2,
                             rollout_batch=2, per_device_batch=4)
    with pytest.raises(UserError) as err:
        run_grpo_stage(config, model_path=char_model, output_dir=tmp_path / "run", seed=0,
                       base_dir=tmp_path, device="cpu")
    msg = str(err.value)
    assert "\n" not in msg
    assert "use_vllm is true but vllm is not installed" in msg and "pip install 'vllm>=0.22" in msg
    assert "use_vllm: false" in msg
    assert not (tmp_path / "run" / "stage_config.json").exists()  # stopped before loading rows


def test_vllm_on_cpu_and_bad_tensor_parallel_size(monkeypatch: pytest.MonkeyPatch) -> None:
    from lingshu.train.grpo import vllm

    monkeypatch.setattr(vllm, "vllm_installed", lambda: True)
    c = GRPOStageConfig(data=DATA, use_vllm=True, vllm_tensor_parallel_size=3)
    with pytest.raises(UserError, match="no CUDA GPU"):
        vllm.check_vllm_runtime(c, use_cpu=True, num_processes=8)
    with pytest.raises(UserError, match="vllm_tensor_parallel_size 3 does not divide the 8"):
        vllm.check_vllm_runtime(c, use_cpu=False, num_processes=8)
    vllm.check_vllm_runtime(c, use_cpu=False, num_processes=6)  # 3 divides 6: accepted


def test_cli_prints_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from lingshu.cli.main import main

    code = main(["train", "run", "--recipe", "med-r1", "--dry-run", "stages.0.vllm_mode=server"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "med-r1.yaml: stages.0: vllm_mode: set but use_vllm is not" in err
