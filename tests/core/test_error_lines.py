"""Issue 22's fuzz pass found keys that break the one-line error: an unknown key that is a
line break, an empty key, a key with spaces. They are quoted; no error has a line break."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from lingshu.core.config import format_validation_error


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "x"


@pytest.mark.parametrize(
    ("key", "shown"),
    [("\n", r"'\n'"), ("", "''"), ("two words", "'two words'"), ("tab\there", r"'tab\there'"),
     ("nmae", "nmae")],
)
def test_unknown_keys_are_quoted_when_not_plain(key, shown):
    with pytest.raises(ValidationError) as info:
        Model.model_validate({key: 1})
    line = format_validation_error(info.value, where="r.yaml")
    assert line == f"r.yaml: {shown}: unknown key; check its spelling"


def test_a_message_holding_a_line_break_stays_one_line():
    class Checked(BaseModel):
        value: int

        def model_post_init(self, _):  # noqa: ANN001
            raise ValueError("first\nsecond")

    with pytest.raises(ValidationError) as info:
        Checked.model_validate({"value": 1})
    line = format_validation_error(info.value, where="r.yaml")
    assert "\n" not in line and "first\\nsecond" in line
