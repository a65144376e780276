"""numpy arrays as PostgreSQL `int4[]` and `real[]` parameters, in the binary format.

A keyword search sends group ids and scores to PostgreSQL. psycopg's own list dumping goes
element by element in Python, and a text literal must be written and then parsed by the
server; numpy writes the binary array format (`array_recv`) in one step. Pass
`int4s(a)` or `float4s(a)` as a parameter (cast `::int[]` or `::real[]` in the SQL). The
dumpers are registered on psycopg's global adapters by `finder.db`, before any connection
is made (a connection copies them when it opens).
"""

from __future__ import annotations

import struct

import numpy as np
import psycopg
from psycopg.adapt import AdaptersMap, Dumper
from psycopg.pq import Format


class Int4s(np.ndarray):
    """An int32 array sent as `int4[]`."""


class Float4s(np.ndarray):
    """A float32 array sent as `real[]`."""


def int4s(a: np.ndarray) -> Int4s:
    return np.asarray(a, dtype=np.int32).view(Int4s)


def float4s(a: np.ndarray) -> Float4s:
    return np.asarray(a, dtype=np.float32).view(Float4s)


def _binary(a: np.ndarray, element_oid: int, dtype: str) -> bytes:
    """One dimension, no NULLs, each element 4 bytes long, big-endian."""
    body = np.empty(len(a), dtype=[("length", ">i4"), ("value", dtype)])
    body["length"] = 4
    body["value"] = a
    return struct.pack(">iiIii", 1, 0, element_oid, len(a), 1) + body.tobytes()


class _Int4sDumper(Dumper):
    format = Format.BINARY
    oid = 1007  # int4[]

    def dump(self, obj: np.ndarray) -> bytes:
        return _binary(obj, 23, ">i4")


class _Float4sDumper(Dumper):
    format = Format.BINARY
    oid = 1021  # float4[]

    def dump(self, obj: np.ndarray) -> bytes:
        return _binary(obj, 700, ">f4")


def register(adapters: AdaptersMap = psycopg.adapters) -> None:
    adapters.register_dumper(Int4s, _Int4sDumper)
    adapters.register_dumper(Float4s, _Float4sDumper)
