"""Bulk loading by binary COPY.

Row-by-row INSERTs (even SQLAlchemy's executemany) are some thirty times
slower than COPY, and the per-unit arrays of an AlexNet-scale run are
gigabytes. Small tables go through psycopg's binary `write_row`; the per-unit
arrays are encoded with numpy into PostgreSQL's binary COPY format directly,
a whole block of units per `tobytes()` call.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence

import numpy as np

from seldb.db.schema import STORE

HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
TRAILER = struct.pack(">h", -1)

# PostgreSQL type OIDs and the big-endian numpy type of each.
TYPES = {
    "int2": (21, ">i2"),
    "int4": (23, ">i4"),
    "int8": (20, ">i8"),
    "float8": (701, ">f8"),
}


class ArrayColumn:
    """A column of one array per row, all rows of a block the same length."""

    def __init__(self, name: str, kind: str, values: np.ndarray):
        self.name, self.kind = name, kind
        self.values = np.asarray(values).reshape(len(values), -1)

    def field_dtype(self) -> list:
        oid, be = TYPES[self.kind]
        length = self.values.shape[1]
        element = np.dtype([("len", ">i4"), ("v", be)])
        fields: list[tuple] = [("len", ">i4"), ("ndim", ">i4"), ("flags", ">i4"), ("oid", ">i4")]
        if length:
            fields += [("size", ">i4"), ("lbound", ">i4"), ("el", element, (length,))]
        return fields

    def fill(self, target: np.ndarray) -> None:
        oid, be = TYPES[self.kind]
        length = self.values.shape[1]
        size = np.dtype(be).itemsize
        target["len"] = 12 + (8 + length * (4 + size) if length else 0)
        target["ndim"] = 1 if length else 0
        target["flags"] = 0
        target["oid"] = oid
        if length:
            target["size"] = length
            target["lbound"] = 1
            target["el"]["len"] = size
            target["el"]["v"] = self.values


class ScalarColumn:
    """A column of one non-NULL scalar per row."""

    def __init__(self, name: str, kind: str, values):
        self.name, self.kind = name, kind
        self.values = np.asarray(values)

    def field_dtype(self) -> list:
        return [("len", ">i4"), ("v", TYPES[self.kind][1])]

    def fill(self, target: np.ndarray) -> None:
        target["len"] = np.dtype(TYPES[self.kind][1]).itemsize
        target["v"] = self.values


def encode_block(columns: Sequence[ArrayColumn | ScalarColumn]) -> bytes:
    """Binary COPY tuples (no header) for rows given column by column."""
    n_rows = len(columns[0].values)
    dtype = np.dtype([("nfields", ">i2")] + [(f"c{i}", col.field_dtype()) for i, col in enumerate(columns)])
    rows = np.zeros(n_rows, dtype=dtype)
    rows["nfields"] = len(columns)
    for i, col in enumerate(columns):
        col.fill(rows[f"c{i}"])
    return rows.tobytes()


def copy_encoded(cursor, table: str, column_names: Sequence[str], tuples: bytes | Sequence[bytes]) -> None:
    """One `COPY ... FROM STDIN (FORMAT BINARY)` statement of tuples made by encode_block.

    One statement per block of units, so that no statement lasts longer than
    the COPY of one block, whatever a server's statement_timeout.
    """
    names = ", ".join(f'"{c}"' for c in column_names)
    with cursor.copy(f"COPY {STORE}.{table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(HEADER)
        for piece in [tuples] if isinstance(tuples, (bytes, bytearray, memoryview)) else tuples:
            copy.write(piece)
        copy.write(TRAILER)


def copy_rows(cursor, table: str, column_names: Sequence[str], pg_types: Sequence[str], rows: Iterable[tuple]) -> int:
    """COPY small tables through psycopg's binary row writer (NULLs allowed)."""
    names = ", ".join(f'"{c}"' for c in column_names)
    count = 0
    with cursor.copy(f"COPY {STORE}.{table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(pg_types))
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
