"""bound(): the name is the value inside the block and the original after it, also when the
block raises."""

import types

import pytest

from components.shared.bound import bound


def test_the_name_is_bound_inside_and_restored_after_even_on_error():
    module = types.ModuleType("library")
    module.helper = "original"
    with bound(module, "helper", "stand-in"):
        assert module.helper == "stand-in"
    assert module.helper == "original"
    with pytest.raises(RuntimeError), bound(module, "helper", "stand-in"):
        raise RuntimeError("the executor failed")
    assert module.helper == "original"
