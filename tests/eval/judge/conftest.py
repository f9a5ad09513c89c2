"""Fixtures of the judge tests: a stub judge endpoint over real HTTP."""

from __future__ import annotations

import pytest
from judge_stub import StubJudgeServer


@pytest.fixture
def stub_judge():
    s = StubJudgeServer()
    yield s
    s.close()
