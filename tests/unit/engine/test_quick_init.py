"""Issue 13: ``quick_init`` changes how a timeline record is stored, never what it is.

Each record class of ``service.crs.timeline`` is compared with its twin made by ``dataclasses`` alone (the same
fields, frozen and slotted, the generated ``__init__``): the same values built positionally and by keyword, the
same defaults, repr, equality, hash, ``replace``, pickling, signature, and the same refusal to change.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
from datetime import UTC, datetime
from typing import Any

import pytest

from service.crs import timeline
from service.crs.quick_init import quick_init

RECORDS = [
    cls
    for cls in vars(timeline).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and "__slots__" in cls.__dict__
]
AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
SAMPLES: dict[str, Any] = {"at": AT, "end": AT, "authored_at": AT, "codes": (), "sources": ("a/1",), "grade": 2}


def twin(cls: type[Any]) -> type[Any]:
    """The same record made by dataclasses alone."""
    specs = [
        (item.name, item.type, dataclasses.field(default=item.default))
        if item.default is not dataclasses.MISSING
        else (item.name, item.type)
        for item in dataclasses.fields(cls)
    ]
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True, slots=True)


def values(cls: type[Any], salt: int) -> dict[str, Any]:
    return {item.name: SAMPLES.get(item.name, f"{item.name}-{salt}") for item in dataclasses.fields(cls)}


def test_every_record_class_has_the_quick_init() -> None:
    assert len(RECORDS) >= 14
    for cls in RECORDS:
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
        assert "_set_" in " ".join(cls.__init__.__code__.co_names), cls


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_a_record_is_what_its_plain_dataclass_twin_is(cls: type[Any]) -> None:
    plain = twin(cls)
    given = values(cls, 1)
    record, reference = cls(**given), plain(**given)
    assert repr(record) == repr(reference)
    assert dataclasses.astuple(record) == dataclasses.astuple(reference)
    assert cls(*given.values()) == record
    assert hash(cls(*given.values())) == hash(record)
    assert record != cls(**values(cls, 2))
    assert inspect.signature(cls) == inspect.signature(plain)
    assert copy.deepcopy(record) == record  # copies go through the slots state, as pickling does


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_defaults_replace_and_refusal_are_kept(cls: type[Any]) -> None:
    plain = twin(cls)
    required = {
        name: value
        for name, value in values(cls, 1).items()
        if next(item for item in dataclasses.fields(cls) if item.name == name).default is dataclasses.MISSING
    }
    assert repr(cls(**required)) == repr(plain(**required))
    record = cls(**values(cls, 1))
    first = dataclasses.fields(cls)[-1].name
    changed = dataclasses.replace(record, **{first: "other"})
    assert getattr(changed, first) == "other"
    assert repr(changed) == repr(dataclasses.replace(plain(**values(cls, 1)), **{first: "other"}))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, first, "changed")
    with pytest.raises(TypeError):
        cls(**required, unknown=1)
    with pytest.raises(TypeError):
        cls()


def test_it_refuses_what_it_would_get_wrong() -> None:
    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        at: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Listed:
        items: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        at: int

        def __post_init__(self) -> None:
            pass

    for cls in (Unslotted, Listed, Checked):
        with pytest.raises(TypeError):
            quick_init(cls)
