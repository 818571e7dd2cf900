"""Plain record classes for the modules the request handler loads.

``@record`` gives a class what ``dataclasses.dataclass`` would: an ``__init__`` taking the annotated fields
(positionally or by name, with their defaults; ``Factory`` builds a fresh default per instance), ``__repr__``,
``__eq__``, and for ``frozen=True`` immutability and ``__hash__``; ``replace`` and ``as_dict`` copy and
export one. It exists because the agi-bin request handler is a fresh interpreter on every call: importing
``dataclasses`` loads ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``) and generates code for each
class, a large part of what a call costs. Methods the class defines itself are kept.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's flag without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

_MISSING = object()


class FrozenInstanceError(AttributeError):
    """A field of a frozen record was assigned or deleted."""


class Factory:
    """A field default made afresh for each instance: ``tags: list[str] = Factory(list)``."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def fields(record_or_class: Any) -> tuple[str, ...]:
    """The field names of a record class or instance, in declaration order."""
    return record_or_class.__record_fields__


def replace(obj: T, **changes: Any) -> T:
    """A copy of ``obj`` with ``changes`` (field names only)."""
    values = {name: getattr(obj, name) for name in fields(obj)}
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)[0]!r}")
    values.update(changes)
    return type(obj)(**values)


def as_dict(obj: Any) -> dict[str, Any]:
    """The fields of ``obj`` as a new dict (values as they are: the records hold immutable values or
    build their own export)."""
    return {name: getattr(obj, name) for name in fields(obj)}


def record(cls: type[T] | None = None, /, *, frozen: bool = False) -> Any:
    """Class decorator: see the module's docstring. Fields are the class's annotations (those of record
    base classes first); a field without a default may not follow one with a default."""

    def wrap(cls: type[T]) -> type[T]:
        names: list[str] = list(getattr(cls, "__record_fields__", ()))
        for name in cls.__dict__.get("__annotations__", {}):
            if name not in names:
                names.append(name)
        defaults: dict[str, Any] = dict(getattr(cls, "__record_defaults__", {}))
        for name in names:
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
                if isinstance(defaults[name], Factory):
                    delattr(cls, name)
        with_default = False
        for name in names:
            if name in defaults:
                with_default = True
            elif with_default:
                raise TypeError(
                    f"{cls.__name__}: field {name!r} without a default follows one with a default"
                )
        _attach(cls, tuple(names), defaults, frozen)
        return cls

    return wrap if cls is None else wrap(cls)


def _attach(cls: Any, names: tuple[str, ...], defaults: dict[str, Any], frozen: bool) -> None:
    known = frozenset(names)
    setter = object.__setattr__
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}() takes {len(names)} arguments, {len(args)} were given")
        for name in kwargs:
            if name not in known:
                raise TypeError(f"{qualname}() got an unexpected keyword argument {name!r}")
        for index, name in enumerate(names):
            if index < len(args):
                if name in kwargs:
                    raise TypeError(f"{qualname}() got multiple values for argument {name!r}")
                value = args[index]
            elif name in kwargs:
                value = kwargs[name]
            else:
                value = defaults.get(name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{qualname}() missing required argument: {name!r}")
                if isinstance(value, Factory):
                    value = value.make()
            setter(self, name, value)
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def __repr__(self: Any) -> str:
        return f"{qualname}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    own = cls.__dict__
    defines_eq, defines_repr = "__eq__" in own, "__repr__" in own
    defines_hash = own.get("__hash__") is not None
    cls.__record_fields__ = names
    cls.__record_defaults__ = defaults
    cls.__init__ = __init__
    if not defines_repr:
        cls.__repr__ = __repr__
    if not defines_eq:
        cls.__eq__ = __eq__
    if frozen:

        def __setattr__(self: Any, name: str, value: Any) -> None:
            raise FrozenInstanceError(f"cannot assign to field {name!r} of a frozen {qualname}")

        def __delattr__(self: Any, name: str) -> None:
            raise FrozenInstanceError(f"cannot delete field {name!r} of a frozen {qualname}")

        def __hash__(self: Any) -> int:
            return hash(tuple(getattr(self, n) for n in names))

        cls.__setattr__ = __setattr__
        cls.__delattr__ = __delattr__
        if not defines_hash:
            cls.__hash__ = __hash__
    elif not defines_eq:
        cls.__hash__ = None  # mutable and compared by value: unhashable, as a dataclass
