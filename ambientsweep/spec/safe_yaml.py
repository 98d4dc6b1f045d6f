"""Read an untrusted YAML file in bounded time and memory, and reject what is ambiguous.

Sweep files and base configs come from anyone (a colleague, a stock file edited by hand). This
reader walks PyYAML's event stream (libyaml's C parser where installed) and builds plain data
itself, so that:

- size is bounded before parsing (:data:`MAX_FILE_BYTES`), nesting while parsing
  (:data:`MAX_DEPTH`), and the number of values (:data:`MAX_NODES`);
- anchors, aliases and merge keys (``&a``, ``*a``, ``<<``: the "billion laughs" bomb) and
  explicit tags (``!!python/object``, ``!!binary``, ...) are refused, never expanded or built;
- duplicate keys, several documents in one file, tab characters and plain scalars that YAML 1.1
  and YAML 1.2 read differently (``yes``/``no``/``on``/``off``, ``012``, ``1_000``, ``1:30``,
  ``0o17``, ``0b101``) are refused with the line and what to write instead;
- plain scalars are resolved by the YAML 1.2 core schema, so ``1e-4`` is the number 0.0001 (PyYAML
  alone reads it as the string "1e-4"); numbers longer than :data:`MAX_NUMBER_CHARS` characters
  and finite literals that overflow to infinity are refused.

Every refusal is a :class:`YamlRefused` whose message starts with ``<file>:<line>:``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import yaml

from ambientsweep.errors import UserError

MAX_FILE_BYTES = 256 * 1024  # the largest stock sweep file is ~2 KB
MAX_DEPTH = 32  # nested mappings / lists (a sweep file needs about 5)
MAX_NODES = 20_000  # scalars + collections in one file (a stock sweep has ~60)
MAX_NUMBER_CHARS = 100  # digits of one number literal
MAX_KEY_CHARS = 200  # characters of one mapping key

Lines = dict[tuple[str, ...], int]

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT10 = re.compile(r"^[-+]?[0-9]+$")
_INT16 = re.compile(r"^0x[0-9a-fA-F]+$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")
# Plain scalars YAML 1.1 (PyYAML, many other tools) and YAML 1.2 read differently.
_AMBIGUOUS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$"),
     "is a boolean in YAML 1.1 and a string in YAML 1.2: write true/false, or quote it "
     "('{v}') for the string"),
    (re.compile(r"^[-+]?0[0-9]+$"),
     "is octal in YAML 1.1 and decimal in YAML 1.2: drop the leading zero, or quote it"),
    (re.compile(r"^[-+]?0o[0-7]+$"),
     "is octal in YAML 1.2 and a string in YAML 1.1: write the decimal number, or quote it"),
    (re.compile(r"^[-+]?0b[01_]+$"),
     "is binary in YAML 1.1 and a string in YAML 1.2: write the decimal number, or quote it"),
    (re.compile(r"^[-+]?[0-9][0-9_]*_[0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?$"),
     "is a number in YAML 1.1 and a string in YAML 1.2 (underscores): write it without '_', "
     "or quote it"),
    (re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$"),
     "is a base-60 number in YAML 1.1 and a string in YAML 1.2: quote it"),
]


class YamlRefused(UserError):
    """A YAML file this reader will not load; the message names the file and line."""


def read_yaml(path: Path) -> tuple[Any, Lines]:
    """The data of a one-document YAML file, and the line of every key path.

    ``lines[("space", "train.lr", "grid", "1")]`` is the 1-based line of that value. Raises
    :class:`YamlRefused` (a :class:`~ambientsweep.errors.UserError`) on anything refused.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise YamlRefused(f"{path}: file is {size:,} bytes; a sweep file or config may have "
                              f"at most {MAX_FILE_BYTES:,}")
        raw = path.read_bytes()[: MAX_FILE_BYTES + 1]
    except OSError as e:
        raise YamlRefused(f"{path}: cannot read file ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise YamlRefused(f"{path}:{line}: not UTF-8 text") from None
    return parse_yaml(text, path)


def parse_yaml(text: str, path: Path | str = "<text>") -> tuple[Any, Lines]:
    """:func:`read_yaml` on a string (``path`` only names it in messages)."""
    _prescan(text, path)
    builder = _Builder(path)
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            builder.feed(event)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise YamlRefused(f"{path}{where}: YAML syntax error: {problem}") from None
    return builder.result, builder.lines


def _prescan(text: str, path: Path | str) -> None:
    """Linear checks before the parser sees the text: tabs, and flow nesting (which the
    pure-Python parser handles in quadratic time)."""
    tab = text.find("\t")
    if tab >= 0:
        line = text.count("\n", 0, tab) + 1
        raise YamlRefused(f"{path}:{line}: tab character; indent and separate with spaces "
                          "(YAML forbids tabs in indentation, and they hide structure)")
    depth = 0
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line = text.count("\n", 0, i) + 1
                raise YamlRefused(f"{path}:{line}: nested more than {MAX_DEPTH} levels deep")
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == "\n":
            quote = ""  # a quote inside a comment or a plain scalar ends with its line


class _Builder:
    """Plain data from parser events, with every refusal checked as the events arrive."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.result: Any = None
        self.lines: Lines = {}
        self.stack: list[tuple[Any, tuple[str, ...], str | None]] = []  # (container, path, key)
        self.nodes = 0
        self.documents = 0

    def _where(self, event: Any) -> str:
        return f"{self.path}:{event.start_mark.line + 1}"

    def feed(self, event: Any) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise YamlRefused(f"{self._where(event)}: a second YAML document ('---'); a "
                                  "sweep file or config holds exactly one")
            return
        if isinstance(event, yaml.AliasEvent):
            raise YamlRefused(f"{self._where(event)}: alias *{event.anchor}: anchors and aliases "
                              "are not allowed (write the values out)")
        if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent,
                              yaml.SequenceStartEvent)):
            self._check_node(event)
        if isinstance(event, yaml.ScalarEvent):
            self._add(event, _resolve(event, self._where(event) + self._label(event)))
        elif isinstance(event, yaml.MappingStartEvent):
            self._open(event, {})
        elif isinstance(event, yaml.SequenceStartEvent):
            self._open(event, [])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            container, _, key = self.stack.pop()
            if isinstance(container, dict) and key is not None:
                raise AssertionError("the parser ends a mapping only after a value")
            self._attach(container)

    def _label(self, event: Any) -> str:
        """': <key path>' of the scalar `event` (a key or a value), for messages."""
        if not self.stack:
            return ""
        container, prefix, key = self.stack[-1]
        if isinstance(container, dict):
            path = prefix + ((key,) if key is not None else (event.value[:MAX_KEY_CHARS],))
        else:
            path = prefix + (str(len(container)),)
        return f": {'.'.join(path)}"

    def _check_node(self, event: Any) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise YamlRefused(f"{self._where(event)}: more than {MAX_NODES:,} values in one file")
        if event.anchor is not None:
            raise YamlRefused(f"{self._where(event)}: anchor &{event.anchor}: anchors and "
                              "aliases are not allowed (write the values out)")
        if event.tag is not None:
            raise YamlRefused(f"{self._where(event)}: tag {event.tag}: YAML tags are not allowed "
                              "(plain values, lists and mappings only)")

    def _open(self, event: Any, container: Any) -> None:
        key_path = self._child_path(event)
        if len(self.stack) >= MAX_DEPTH:
            raise YamlRefused(f"{self._where(event)}: nested more than {MAX_DEPTH} levels deep")
        if key_path is not None:
            self.lines[key_path] = event.start_mark.line + 1
        self.stack.append((container, key_path or (), None))

    def _child_path(self, event: Any) -> tuple[str, ...] | None:
        """Key path of the node `event` starts; None at the top (or for a mapping key)."""
        if not self.stack:
            return None
        container, prefix, key = self.stack[-1]
        if isinstance(container, dict):
            if key is None:
                raise YamlRefused(f"{self._where(event)}: a mapping key must be a plain name, "
                                  "not a list or mapping")
            return prefix + (key,)
        return prefix + (str(len(container)),)

    def _add(self, event: Any, value: Any) -> None:
        if self.stack and isinstance(self.stack[-1][0], dict) and self.stack[-1][2] is None:
            self._set_key(event, value)
            return
        key_path = self._child_path(event)
        if key_path is not None:
            self.lines[key_path] = event.start_mark.line + 1
        self._attach(value)

    def _set_key(self, event: Any, value: Any) -> None:
        container, prefix, _ = self.stack[-1]
        if not event.style and event.value == "<<":
            raise YamlRefused(f"{self._where(event)}: merge key '<<' is not allowed (write the "
                              "keys out)")
        key = event.value
        if len(key) > MAX_KEY_CHARS:
            raise YamlRefused(f"{self._where(event)}: a key of {len(key):,} characters")
        if value is None and not event.style:
            raise YamlRefused(f"{self._where(event)}: empty or null key")
        if key in container:
            first = self.lines.get(prefix + (key,))
            also = f" (first at line {first})" if first else ""
            raise YamlRefused(f"{self._where(event)}: {'.'.join(prefix + (key,))}: duplicate "
                              f"key{also}; YAML keeps only one of them, so say it once")
        self.stack[-1] = (container, prefix, key)
        self.lines[prefix + (key,)] = event.start_mark.line + 1

    def _attach(self, value: Any) -> None:
        if not self.stack:
            self.result = value
            return
        container, prefix, key = self.stack[-1]
        if isinstance(container, dict):
            assert key is not None
            container[key] = value
            self.stack[-1] = (container, prefix, None)
        else:
            container.append(value)


def _resolve(event: Any, where: str) -> Any:
    """A scalar's value: quoted = string; plain = YAML 1.2 core schema, ambiguity refused."""
    v: str = event.value
    if event.style:  # quoted or block scalar (a plain one has no style: None or "")
        return v
    for pattern, why in _AMBIGUOUS:
        if pattern.match(v):
            raise YamlRefused(f"{where}: {v!r} {why.format(v=v)}")
    if _NULL.match(v):
        return None
    if _BOOL.match(v):
        return v.lower() == "true"
    if _INT10.match(v) or _INT16.match(v) or _FLOAT.match(v):
        if len(v) > MAX_NUMBER_CHARS:
            raise YamlRefused(f"{where}: a number of {len(v):,} characters (at most "
                              f"{MAX_NUMBER_CHARS}); no setting needs that")
        if _INT10.match(v):
            return int(v)
        if _INT16.match(v):
            return int(v, 16)
        f = float(v)
        if math.isinf(f):
            raise YamlRefused(f"{where}: {v} overflows to infinity; write .inf if infinity is "
                              "meant")
        return f
    if _INF.match(v):
        return -math.inf if v.startswith("-") else math.inf
    if _NAN.match(v):
        return math.nan
    return v
