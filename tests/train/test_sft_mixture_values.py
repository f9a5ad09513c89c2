"""Issue 22, point 12 (found again by scripts/attack_cases.py): a data mixture's ``ratio``
of ``inf`` gave a traceback (OverflowError when the row count was computed); it is one
line naming the field, like 0, a negative ratio or nan."""

from __future__ import annotations

import pytest

from lingshu.cli.main import main


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "0", "-1"])
def test_a_mixture_ratio_that_is_not_a_positive_number_is_one_line(value, capsys):
    code = main(["train", "run", "--recipe", "nano", "--dry-run",
                 f"stages.0.data.0.ratio={value}"])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code != 0 and len(err) == 1, err
    assert "Traceback" not in err[0] and "stages.0.data.0.ratio" in err[0], err
