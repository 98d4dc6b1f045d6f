"""The registry of methods: YAML ``kind`` -> spec class, and everything derived from it.

Torch-free. ``ambientsweep/methods/__init__.py`` registers the built-in specs eagerly (as
Optuna's ``samplers/__init__.py`` lists its samplers); a plug-in or a test may
:func:`register` more. The models whose ``method`` field is the union of the registered specs
(:class:`~ambientsweep.config.TrialConfig`, the sweep spec) call :func:`rebuild_on_change`, so
pydantic rebuilds them, with the new union, schema and error texts, whenever the set changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import BaseModel, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema

from ambientsweep.methods.spec import MethodSpecBase

if TYPE_CHECKING:
    from ambientsweep.config import TrialConfig
    from ambientsweep.methods.base import MethodBase

_SPECS: dict[str, type[MethodSpecBase]] = {}
_DEPENDENTS: list[type[BaseModel]] = []


def _kind_of(spec: type[MethodSpecBase]) -> str:
    field = spec.model_fields.get("kind")
    default = None if field is None else field.default
    if not isinstance(default, str) or not default:
        raise TypeError(f"{spec.__name__}: declare kind: Literal['<kind>'] = '<kind>'")
    return default


def register(spec: type[MethodSpecBase]) -> type[MethodSpecBase]:
    """Add a method spec under its ``kind`` and rebuild the models that hold the union."""
    kind = _kind_of(spec)
    if kind in _SPECS and _SPECS[kind] is not spec:
        raise ValueError(f"method kind {kind!r} is already registered")
    _SPECS[kind] = spec
    _rebuild()
    return spec


def unregister(kind: str) -> None:
    """Remove a registered kind (plug-in tests); the models are rebuilt without it."""
    if kind not in _SPECS:
        raise KeyError(f"no method registered for kind {kind!r}")
    if len(_SPECS) == 1:
        raise ValueError("cannot unregister the last method kind")
    del _SPECS[kind]
    _rebuild()


def kinds() -> tuple[str, ...]:
    """The registered kinds, in registration order (the built-ins first)."""
    return tuple(_SPECS)


def default_kind() -> str:
    """The kind of a config that names none: the first registered (``edm``)."""
    return next(iter(_SPECS))


def method_spec(kind: str) -> type[MethodSpecBase]:
    """The spec class of `kind`. Raises KeyError listing the known kinds."""
    if kind not in _SPECS:
        raise KeyError(f"no method registered for kind {kind!r}; known: {', '.join(_SPECS)}")
    return _SPECS[kind]


def default_spec() -> MethodSpecBase:
    """The spec of :func:`default_kind` with its defaults."""
    return _SPECS[default_kind()]()


def build_method(config: TrialConfig) -> MethodBase:
    """The method object for ``config.method``, built from its spec (imports its torch class)."""
    spec = config.method
    return spec.method_class()(spec, config)


class _MethodClasses(Mapping[str, Any]):
    """kind -> method class, importing a class only when it is looked up."""

    def __getitem__(self, kind: str) -> type[MethodBase]:
        return method_spec(kind).method_class()

    def __iter__(self) -> Iterator[str]:
        return iter(kinds())

    def __len__(self) -> int:
        return len(_SPECS)


METHODS: Mapping[str, Any] = _MethodClasses()


# ----------------------------------------------------------------------------------------------
# The union as a pydantic type, rebuilt when the registry changes.


class _RegisteredUnion:
    """pydantic hook: the union of the registered specs, discriminated by ``kind``."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler
                                     ) -> CoreSchema:
        specs = tuple(_SPECS.values())
        if len(specs) == 1:
            return handler.generate_schema(specs[0])
        return handler.generate_schema(Annotated[Union[specs], Field(discriminator="kind")])  # noqa: UP007


#: Annotation of a ``method`` field: any registered spec, chosen by its ``kind``.
MethodSpec = Annotated[MethodSpecBase, _RegisteredUnion]


def rebuild_on_change(model: type[BaseModel]) -> None:
    """Rebuild `model` (whose fields use :data:`MethodSpec`) whenever a kind (un)registers."""
    _DEPENDENTS.append(model)


def _rebuild() -> None:
    for model in _DEPENDENTS:
        model.model_rebuild(force=True)

