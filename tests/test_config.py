"""config.py: every field is checked, its type too, when a Config is made."""

import dataclasses
from pathlib import Path

import pytest

from mae_helpers import get_config


@pytest.mark.parametrize("field, value", [("data_root", b"data"), ("data_root", 7), ("channels", b"abc"),
                                          ("channels", "abc")])
def test_a_field_of_the_wrong_type_is_refused_naming_it(field, value):
    # (issue 37: get_config(data_root=b"data") was accepted and failed later with a bare TypeError)
    with pytest.raises(ValueError, match=field):
        get_config(**{field: value})
    with pytest.raises(ValueError, match=field):  # also on the dataclasses path, which skips Config.replace
        dataclasses.replace(get_config(), **{field: value})


def test_a_data_root_may_be_a_path():
    assert get_config(data_root=Path("data") / "mnist").data_root == str(Path("data") / "mnist")
