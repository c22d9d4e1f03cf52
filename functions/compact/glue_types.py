"""Glue (Hive) column types, parsed once and written in the two dialects that read them: DuckDB (the local views and
the Parquet writer) and Trino (the column list an Athena view stores). No library parses Hive type strings for us
(DuckDB's and pyarrow's own type parsers take their own spelling), so this is a small recursive-descent parser.

    struct<a:int,b:array<string>>  ->  DuckDB  STRUCT("a" INTEGER, "b" VARCHAR[])
                                   ->  Trino   row(a integer, b array(varchar))
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|<|>|,|:|\(|\)|\d+)")

# Hive primitive -> (DuckDB, Trino). Parameterised forms (decimal(p,s), varchar(n), char(n)) keep their arguments
# in Trino; DuckDB has one VARCHAR.
_PRIMITIVES = {
    "string": ("VARCHAR", "varchar"),
    "varchar": ("VARCHAR", "varchar"),
    "char": ("VARCHAR", "char"),
    "tinyint": ("TINYINT", "tinyint"),
    "smallint": ("SMALLINT", "smallint"),
    "int": ("INTEGER", "integer"),
    "integer": ("INTEGER", "integer"),
    "bigint": ("BIGINT", "bigint"),
    "float": ("FLOAT", "real"),
    "double": ("DOUBLE", "double"),
    "decimal": ("DECIMAL", "decimal"),
    "boolean": ("BOOLEAN", "boolean"),
    "date": ("DATE", "date"),
    # Athena's timestamps have millisecond precision.
    "timestamp": ("TIMESTAMP", "timestamp(3)"),
    "binary": ("BLOB", "varbinary"),
}
# Row field names Trino's type parser would read as keywords: quoted in the Trino spelling.
_TRINO_RESERVED = frozenset(
    "alter and as between by case cast constraint create cross cube current_date current_time current_timestamp "
    "current_user deallocate delete describe distinct drop else end escape except execute exists extract false for "
    "from full group grouping having in inner insert intersect into is join left like localtime localtimestamp "
    "natural normalize not null on or order outer prepare recursive right rollup select table then true uescape "
    "union unnest using values when where with".split()
)


class HiveTypeError(ValueError):
    """A Glue column type this parser cannot read; the message quotes it."""


@dataclass(frozen=True)
class HiveType:
    """One parsed type: a primitive (with its arguments), or struct / array / map of parsed types."""

    kind: str  # a primitive name, or "struct", "array", "map"
    arguments: tuple[str, ...] = ()  # decimal(10,2) -> ("10", "2")
    fields: tuple[tuple[str, HiveType], ...] = ()  # struct fields, in order
    elements: tuple[HiveType, ...] = ()  # array: (element,); map: (key, value)

    def duckdb(self) -> str:
        if self.kind == "struct":
            return "STRUCT(" + ", ".join(f'"{name}" {child.duckdb()}' for name, child in self.fields) + ")"
        if self.kind == "array":
            return f"{self.elements[0].duckdb()}[]"
        if self.kind == "map":
            return f"MAP({self.elements[0].duckdb()}, {self.elements[1].duckdb()})"
        duck = _PRIMITIVES[self.kind][0]
        if self.kind == "decimal" and self.arguments:
            return f"DECIMAL({', '.join(self.arguments)})"
        return duck

    def trino(self) -> str:
        if self.kind == "struct":
            return "row(" + ", ".join(f"{_trino_field(name)} {child.trino()}" for name, child in self.fields) + ")"
        if self.kind == "array":
            return f"array({self.elements[0].trino()})"
        if self.kind == "map":
            return f"map({self.elements[0].trino()}, {self.elements[1].trino()})"
        trino = _PRIMITIVES[self.kind][1]
        return f"{trino}({','.join(self.arguments)})" if self.arguments else trino


def _trino_field(name: str) -> str:
    return f'"{name}"' if name.lower() in _TRINO_RESERVED else name.lower()


def parse_hive_type(hive_type: str) -> HiveType:
    """Parse a Glue/Hive column type; HiveTypeError names the type and what is wrong with it."""
    tokens: list[str] = _TOKEN.findall(hive_type)
    if "".join(tokens) != re.sub(r"\s+", "", hive_type):
        raise HiveTypeError(f"unreadable Hive type {hive_type!r}")
    position = 0

    def take(expected: str | None = None) -> str:
        nonlocal position
        if position >= len(tokens):
            raise HiveTypeError(f"unreadable Hive type {hive_type!r}: it ends early")
        token = tokens[position]
        if expected is not None and token != expected:
            raise HiveTypeError(f"unreadable Hive type {hive_type!r}: {expected!r} expected, {token!r} found")
        position += 1
        return token

    def parse() -> HiveType:
        word = take().lower()
        if word == "struct":
            take("<")
            fields = []
            while True:
                name = take()
                take(":")
                fields.append((name, parse()))
                if take() == ">":
                    return HiveType("struct", fields=tuple(fields))
        if word == "array":
            take("<")
            element = parse()
            take(">")
            return HiveType("array", elements=(element,))
        if word == "map":
            take("<")
            key = parse()
            take(",")
            value = parse()
            take(">")
            return HiveType("map", elements=(key, value))
        if word not in _PRIMITIVES:
            raise HiveTypeError(f"unreadable Hive type {hive_type!r}: unknown type {word!r}")
        arguments: list[str] = []
        if position < len(tokens) and tokens[position] == "(":
            take("(")
            arguments.append(take())
            while take() == ",":
                arguments.append(take())
        return HiveType(word, arguments=tuple(arguments))

    result = parse()
    if position != len(tokens):
        raise HiveTypeError(f"unreadable Hive type {hive_type!r}: trailing {tokens[position:]}")
    return result


def hive_to_duckdb(hive_type: str) -> str:
    """A Glue/Hive column type as a DuckDB type: struct<a:int> -> STRUCT("a" INTEGER), array<t> -> t[], map<k,v>
    -> MAP(k, v), decimal(p,s) -> DECIMAL(p, s), varchar(n) -> VARCHAR."""
    return parse_hive_type(hive_type).duckdb()


def hive_to_trino(hive_type: str) -> str:
    """A Glue/Hive column type as Trino spells it in a view's column list: struct<a:int> -> row(a integer),
    array<t> -> array(t), map<k,v> -> map(k, v), string -> varchar, int -> integer."""
    return parse_hive_type(hive_type).trino()
