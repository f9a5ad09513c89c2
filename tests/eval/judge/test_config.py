"""``EvalConfig.judge``: typed, the key never dumped, scope fixed by profile, identity."""

from __future__ import annotations

import pytest

from lingshu.core.errors import UserError
from lingshu.eval.config import EvalConfig


def cfg(**kw):
    return EvalConfig(benchmarks=["slake"], data_dir="/data", backend="dummy", **kw)


def test_no_judge_keeps_the_identity_of_older_runs():
    c = cfg()
    assert c.judge is None and "judge" not in c.identity()


def test_key_is_not_dumped_only_noted():
    c = cfg(judge={"model": "gpt-4.1", "api_key": "sk-1"})
    assert c.judge.key() == "sk-1" and c.judge.api_key_set is True
    dumped = c.model_dump_json()
    assert "sk-1" not in dumped and '"api_key_set":true' in dumped and '"api_key"' not in dumped
    back = EvalConfig.model_validate_json(dumped)
    assert back.judge.api_key is None and back.judge.api_key_set is True
    assert back.identity_hash() == c.identity_hash()
    assert cfg(judge={"model": "gpt-4.1"}).judge.api_key_set is False


@pytest.mark.parametrize(
    "change",
    [{"concurrency": 1}, {"timeout_s": 5.0}, {"max_retries": 0}, {"backoff_s": 0.0},
     {"backoff_max_s": 1.0}, {"give_up_after": 1}, {"api_key": "sk-2"}],
)
def test_operational_fields_do_not_change_identity(change):
    base = cfg(judge={"model": "m"})
    assert cfg(judge={"model": "m", **change}).identity_hash() == base.identity_hash()


@pytest.mark.parametrize(
    "change",
    [{"model": "other"}, {"base_url": "http://127.0.0.1:8000/v1"}, {"max_tokens": 16},
     {"scope": "all-vqa"}],
)
def test_verdict_fields_change_identity(change):
    base = cfg(judge={"model": "m"})
    assert cfg(judge={"model": "m", **change}).identity_hash() != base.identity_hash()
    assert cfg(judge={"model": "m"}).identity_hash() != cfg().identity_hash()


def test_scope_is_resolved_and_saved():
    assert cfg(judge={"model": "m"}).judge.scope == "open"
    assert cfg(judge={"model": "m", "scope": "open"}).identity_hash() == cfg(judge={"model": "m"}).identity_hash()
    assert cfg(profile="medevalkit", judge={"model": "m"}).judge.scope == "medevalkit"
    with pytest.raises(UserError, match="medevalkit-reasoning profile judges exactly where MedEvalKit does"):
        cfg(profile="medevalkit-reasoning", judge={"model": "m", "scope": "all-vqa"})


def test_unknown_judge_keys_are_errors():
    with pytest.raises(ValueError, match="judge.temperature"):
        cfg(judge={"model": "m", "temperature": 0.7})
