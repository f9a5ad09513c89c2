"""Issue 22, points 1-2: a credential is used, never written. Every file a run writes is
searched for the key; a resumed run takes the key from the environment or a rotated one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lingshu.core.manifest import masked_argv
from lingshu.core.secrets import is_secret_name, masked, without_secrets

pytestmark = pytest.mark.slow

KEYS = ("sk-FIRST-0a1b2c3d", "sk-ROTATED-4e5f6a7b", "sk-FROMENV-8c9d0e1f")


@pytest.fixture()
def stub():
    """An OpenAI-compatible endpoint on loopback recording Authorization headers (the
    judge tests' stub: it answers any other prompt with a fixed text)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval" / "judge"))
    try:
        from judge_stub import StubJudgeServer
    finally:
        sys.path.pop(0)
    s = StubJudgeServer()
    yield s
    s.close()


def files_holding(root: Path, secrets: tuple[str, ...]) -> list[str]:
    """Every file under ``root`` (any depth, binary ones included) holding a secret."""
    return [
        f"{p}: {s}"
        for p in root.rglob("*")
        if p.is_file()
        for s in secrets
        if s.encode() in p.read_bytes()
    ]


def lingshu(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lingshu.cli.main", *args],
        capture_output=True, text=True, cwd=cwd, timeout=300,
        env={k: v for k, v in os.environ.items() if "API_KEY" not in k} | env,
    )


def test_eval_api_key_is_never_written_and_a_rotated_or_env_key_resumes(stub, data_dir, tmp_path):
    env = {"LINGSHU_CACHE": str(tmp_path / "cache")}
    cmd = ("eval", "run", "-b", "medqa-usmle", "--data-dir", str(data_dir), "--backend",
           "openai", "--model", "m", "--base-url", stub.url, "--limit", "2", "-o", "run", "-q")
    first = lingshu(*cmd, "--api-key", KEYS[0], cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert stub.auth and set(stub.auth) == {f"Bearer {KEYS[0]}"}
    # the same command with a rotated key is the same run: resumed, not refused
    rotated = lingshu(*cmd, "--api-key", KEYS[1], "--no-cache", cwd=tmp_path, env=env)
    assert rotated.returncode == 0, rotated.stderr
    # resumed with the key from the environment; --no-cache so that the endpoint is called
    (tmp_path / "run" / "samples" / "medqa-usmle.jsonl").unlink()
    n = len(stub.auth)
    resumed = lingshu("eval", "run", "--resume", "run", "--no-cache", "-q", cwd=tmp_path,
                      env={**env, "LINGSHU_API_KEY": KEYS[2]})
    assert resumed.returncode == 0, resumed.stderr
    assert stub.auth[n:] and set(stub.auth[n:]) == {f"Bearer {KEYS[2]}"}
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert "api_key" not in config["backend_options"]
    assert config["backend_options"]["base_url"] == stub.url
    leaks = files_holding(tmp_path, KEYS)
    output = first.stdout + first.stderr + rotated.stdout + rotated.stderr + resumed.stderr
    assert leaks == [] and not any(k in output for k in KEYS), leaks


def test_names_that_hold_credentials():
    secret = ["api_key", "API_KEY", "--api-key", "judge_api_key", "--judge-api-key", "hf_token",
              "token", "password", "client_secret"]
    plain = ["max_tokens", "token_count", "max_new_tokens", "tokenizer", "keep_source", "model"]
    assert [n for n in secret if not is_secret_name(n)] == []
    assert [n for n in plain if is_secret_name(n)] == []


def test_secrets_are_dropped_from_identities_and_masked_when_echoed():
    opts = {"model": "m", "api_key": "k", "nested": [{"token": "t", "max_tokens": 3}]}
    assert without_secrets(opts) == {"model": "m", "nested": [{"max_tokens": 3}]}
    assert masked(opts) == {"model": "m", "api_key": "***", "nested": [{"token": "***", "max_tokens": 3}]}
    argv = ["lingshu", "eval", "run", "--backend-opt", "api_key=k1", "--judge-api-key", "k2",
            "llm.options.api_key=k3", "--max-tokens", "5", "stages.0.lr=1e-5"]
    assert masked_argv(argv) == ["lingshu", "eval", "run", "--backend-opt", "api_key=***",
                                 "--judge-api-key", "***", "llm.options.api_key=***",
                                 "--max-tokens", "5", "stages.0.lr=1e-5"]
