"""The boundary checks of latentedit.validation and the one-line messages of LatentEditError."""

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from latentedit import ConfigError, DataFormatError, InputError, LatentEditError, ModelFolderError
from latentedit.errors import one_line
from latentedit.validation import (
    MAX_COUNT,
    check_bool,
    check_choice,
    check_device,
    check_int,
    check_number,
    check_numbers,
    check_path,
    check_seed,
    check_text,
    shown,
)


@pytest.mark.parametrize("error_type", [LatentEditError, ConfigError, DataFormatError, InputError, ModelFolderError])
def test_error_messages_are_one_line(error_type):
    error = error_type("cannot read a\nb\r\nc\u2028d\x85e")
    assert str(error) == "cannot read a\\nb\\r\\nc\\u2028d\\x85e"
    assert len(str(error).splitlines()) == 1


def test_model_folder_error_is_still_an_os_error_without_errno():
    error = ModelFolderError("x\ny")
    assert isinstance(error, OSError) and error.errno is None and error.args == ("x\\ny",)


def test_one_line_leaves_other_characters_alone():
    assert one_line("tab\tand \u200f and \x00") == "tab\tand \u200f and \x00"


@pytest.mark.parametrize("value", [True, 1.0, "3", None, np.int64(3), -1, MAX_COUNT + 1, 2**63])
def test_check_int_refuses_non_integers_and_out_of_range(value):
    with pytest.raises(InputError, match="steps"):
        check_int("steps", value)


def test_check_int_messages_name_the_bound():
    assert check_int("n", 3, minimum=1) == 3
    with pytest.raises(InputError, match=r"n must be an integer >= 1, got 0"):
        check_int("n", 0, minimum=1)
    with pytest.raises(InputError, match=f"at most {MAX_COUNT}"):
        check_int("n", 2**64, minimum=1)
    with pytest.raises(ConfigError, match=r"id must be an integer in \[0, 9\], got -1"):
        check_int("id", -1, maximum=9, error=ConfigError)
    with pytest.raises(ConfigError, match="id must be at most 9, got 10"):
        check_int("id", 10, maximum=9, error=ConfigError)
    with pytest.raises(InputError, match="a positive integer"):
        check_int("d", -1, minimum=1, expected="a positive integer")


@pytest.mark.parametrize("value", [math.nan, math.inf, True, "1", None, torch.tensor(1.0), 10**400, np.array([1.0])])
def test_check_number_refuses_non_finite_and_non_numbers(value):
    with pytest.raises(InputError, match="lr must be a finite number"):
        check_number("lr", value)


def test_check_number_bounds():
    assert check_number("x", 1) == 1.0 and isinstance(check_number("x", 1), float)
    assert check_number("p", 0.0, 0.0, 1.0) == 0.0
    with pytest.raises(InputError, match=r"p must be a finite number in \(0, 1\)"):
        check_number("p", 0.0, 0.0, 1.0, open_min=True, open_max=True)
    with pytest.raises(InputError, match="> 0"):
        check_number("lr", 0, minimum=0.0, open_min=True)
    with pytest.raises(InputError, match="<= 2"):
        check_number("x", 3, maximum=2.0)


def test_check_bool_and_choice():
    assert check_bool("flag", False) is False
    for bad in (1, np.bool_(True), None):
        with pytest.raises(InputError, match="flag"):
            check_bool("flag", bad)
    assert check_choice("method", "lerp", ("slerp", "lerp")) == "lerp"
    for bad in ("LERP", np.array([1.0, 2.0]), ["lerp"], None):
        with pytest.raises(InputError, match=r"method must be one of \['slerp', 'lerp'\]"):
            check_choice("method", bad, ("slerp", "lerp"))


def test_check_seed():
    assert check_seed(None, optional=True) is None
    assert check_seed(2**64 - 1) == 2**64 - 1 and check_seed(-(2**63)) == -(2**63)
    for bad in (None, 1.5, True, "1", 2**64, -(2**63) - 1):
        with pytest.raises(InputError, match="seed"):
            check_seed(bad)


def test_check_text():
    assert check_text("a") == "a" and check_text("", allow_empty=True) == ""
    with pytest.raises(InputError, match="text 2 is bytes, not a string"):
        check_text(b"a", "text 2")
    with pytest.raises(InputError, match="empty or whitespace"):
        check_text(" \n", "text 0")
    with pytest.raises(InputError, match="lone surrogate at character 2"):
        check_text("a\ud800", "text 0")


def test_check_path(tmp_path):
    assert check_path("path", tmp_path) == tmp_path
    assert check_path("path", str(tmp_path / "x")) == tmp_path / "x"
    for bad, what in [(None, "NoneType"), (0, "int"), (b"x", "bytes"), ("", "empty"), ("a\x00b", "NUL"),
                      ("a\ud800", "encoding")]:
        with pytest.raises(DataFormatError, match=what):
            check_path("path", bad, DataFormatError)

    class BytesPath(os.PathLike):
        def __fspath__(self):
            return b"x"

    with pytest.raises(InputError, match="bytes"):
        check_path("path", BytesPath())


def test_check_device():
    assert check_device("cpu") == torch.device("cpu")
    assert check_device(torch.device("cpu")) == torch.device("cpu")
    for bad in ("CPU", "gpu", "meta", object(), -1, None):
        with pytest.raises(InputError, match="device"):
            check_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="not available"):
            check_device("cuda")


def test_check_numbers():
    assert torch.equal(check_numbers("values", [1, 2.5]), torch.tensor([1.0, 2.5]))
    for bad in ("1234", ["a", "b"], {"a": 1}, [[1.0], 2.0], None):
        with pytest.raises(InputError, match="values must be a list of numbers"):
            check_numbers("values", bad)


def test_shown_cuts_long_and_unprintable_values():
    assert shown("x" * 500).endswith("...") and len(shown("x" * 500)) == 100
    assert shown(10**5000) == "<int>"
    assert shown(Path("a")) == repr(Path("a"))
