"""freepbx_callback.records: the record classes of the request path behave as dataclasses would."""

from __future__ import annotations

import pytest

from freepbx_callback.records import Factory, FrozenInstanceError, as_dict, fields, record, replace


@record(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple[str, ...] = ()


@record
class Bag:
    name: str
    items: list[int] = Factory(list)


def test_init_takes_fields_by_position_and_name_with_defaults() -> None:
    assert Point(1) == Point(x=1, y=0, tags=())
    assert Point(1, 2).y == 2 and Point(y=3, x=1).y == 3
    assert fields(Point) == ("x", "y", "tags") == fields(Point(1))
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=())"


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing required argument: 'x'"),
        ((1, 2, (), 4), {}, "takes 3 arguments"),
        ((1,), {"x": 2}, "multiple values for argument 'x'"),
        ((1,), {"z": 2}, "unexpected keyword argument 'z'"),
    ],
)
def test_wrong_arguments_are_refused(args: tuple[int, ...], kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        Point(*args, **kwargs)


def test_frozen_records_refuse_changes_and_hash_by_value() -> None:
    p = Point(1, 2)
    with pytest.raises(FrozenInstanceError):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del p.y
    assert hash(Point(1, 2)) == hash(Point(1, 2)) and len({Point(1, 2), Point(1, 2), Point(2)}) == 2
    assert Point(1) != Bag("1") and Point(1) != (1, 0, ())


def test_mutable_records_change_in_place_and_are_not_hashable() -> None:
    a, b = Bag("a"), Bag("a")
    a.items.append(1)
    assert b.items == [] and a != b, "a factory default is made afresh for each instance"
    a.name = "c"
    assert a.name == "c"
    with pytest.raises(TypeError):
        hash(a)
    assert not hasattr(Bag, "items"), "the factory is not left on the class"


def test_replace_and_as_dict_copy() -> None:
    p = Point(1, 2, ("t",))
    assert replace(p, y=5) == Point(1, 5, ("t",)) and p.y == 2
    with pytest.raises(TypeError, match="no field 'z'"):
        replace(p, z=1)
    assert as_dict(p) == {"x": 1, "y": 2, "tags": ("t",)}


def test_post_init_runs_and_own_methods_are_kept() -> None:
    seen: list[int] = []

    @record(frozen=True)
    class Checked:
        value: int

        def __post_init__(self) -> None:
            seen.append(self.value)

        def __repr__(self) -> str:
            return f"<{self.value}>"

    assert repr(Checked(3)) == "<3>" and seen == [3]


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="'b' without a default"):

        @record
        class Wrong:
            a: int = 0
            b: int


def test_a_record_extends_a_record() -> None:
    @record(frozen=True)
    class Point3(Point):
        z: int = 0

    assert fields(Point3) == ("x", "y", "tags", "z") and Point3(1, z=4) == Point3(1, 0, (), 4)
