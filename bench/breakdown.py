"""Per-step cost of a search request, in CPU time, robust to a busy machine.

    python -m bench.breakdown [--groups 100000] [--rounds 3]

The benchmark's search mix runs in-process through the Flask app (test client: no gunicorn,
no HTTP), one request at a time, with the steps of a request wrapped in timers: geocoding,
the nearby and online lists, rows into result objects, finder.schedules, JSON, releasing
the connection. Each step gets its *exclusive* thread CPU time (time.thread_time, which does
not grow while the thread waits for PostgreSQL or for a CPU) and wall time; wall minus CPU is mostly
waiting for PostgreSQL. Statements executed inside a step are split out as "<step> › SQL"
(SQLAlchemy and psycopg on the client side; the wait is PostgreSQL). What no step claims
is Flask, Werkzeug and the test client.

Timers are attached by replacing module attributes at run time; nothing in finder/ changes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from bench import mix, run
from finder.config import database_url


class Timers:
    """Exclusive CPU and wall time per named step (a nested step pauses its parent)."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.stack: list[list[Any]] = []  # [name, cpu_start, wall_start]

    def _pause(self) -> None:
        if self.stack:
            name, c0, w0 = self.stack[-1]
            self.cpu[name] += time.thread_time() - c0
            self.wall[name] += time.perf_counter() - w0

    def _resume(self) -> None:
        if self.stack:
            self.stack[-1][1:] = [time.thread_time(), time.perf_counter()]

    def wrap(self, name: str, fn: Callable[..., Any], sub: bool = False) -> Callable[..., Any]:
        """`sub`: count as "<calling step> › <name>", e.g. the SQL run inside result building."""

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            label = name
            if sub:
                parent = self.stack[-1][0].split(" › ")[0] if self.stack else "Flask"
                label = f"{parent} › {name}"
            self._pause()
            self.stack.append([label, time.thread_time(), time.perf_counter()])
            self.calls[label] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                self._pause()
                self.stack.pop()
                self._resume()

        return timed


def instrument(timers: Timers) -> None:
    """Wrap the request's steps where the callers look them up."""
    import finder.api as api
    import finder.db as db
    import finder.geocode as geocode
    import finder.schedules as schedules
    import finder.search as search
    from finder.search import query, results

    search.parse = timers.wrap("parse query string", search.parse)
    geocode.resolve = timers.wrap("geocode", geocode.resolve)
    query.nearby = timers.wrap("nearby list SQL", query.nearby)
    query.online = timers.wrap("online list SQL", query.online)
    query.anywhere = timers.wrap("anywhere list SQL", query.anywhere)
    results.from_rows = timers.wrap("results.from_rows (rows -> objects)", results.from_rows)
    for name in ("next_occurrence", "describe", "to_rrule", "format_time"):
        setattr(schedules, name, timers.wrap("finder.schedules", getattr(schedules, name)))
    api.json_response = timers.wrap("JSON encoding (orjson)", api.json_response)
    # executing a statement (wall includes PostgreSQL), per calling step: SQLAlchemy (the
    # geocoders) and psycopg cursors (the search's own SQL, and under SQLAlchemy)
    import psycopg
    from sqlalchemy.orm import Session

    Session._execute_internal = timers.wrap(  # type: ignore[method-assign]
        "SQL", Session._execute_internal, sub=True)
    psycopg.Cursor.execute = timers.wrap(  # type: ignore[method-assign]
        "SQL", psycopg.Cursor.execute, sub=True)
    db.Database._release = timers.wrap(  # type: ignore[method-assign]
        "connection release", db.Database._release)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Per-step CPU and wall time of GET /api/v1/groups.")
    p.add_argument("--groups", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3, help="passes over the mix (after one warm)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mix-size", type=int, default=run.MIX_SIZE)
    args = p.parse_args(argv)

    base = database_url()
    fp = run.ensure_template(base)
    db = run.ensure_bench_db(base, args.groups, args.seed, fp, force=False)
    from finder import create_app
    from finder.db import make_engine

    engine = make_engine(db["url"])
    try:
        captured = [c for c in mix.capture(engine, mix.draw(db["url"], args.mix_size, args.seed),
                                           dt.datetime.now(dt.UTC)) if not c.error]
    finally:
        engine.dispose()
    paths = [c.search.path for c in captured]

    timers = Timers()
    instrument(timers)
    app = create_app({"DATABASE_URL": db["url"], "ONLINE_GEOCODER": False})
    client = app.test_client()
    for path in paths:  # warm: connections, statement caches, prepared statements
        client.get(path)
    for d in (timers.cpu, timers.wall, timers.calls):
        d.clear()
    total_cpu = total_wall = 0.0
    n = 0
    for _ in range(args.rounds):
        for path in paths:
            c0, w0 = time.thread_time(), time.perf_counter()
            resp = client.get(path)
            total_cpu += time.thread_time() - c0
            total_wall += time.perf_counter() - w0
            n += 1
            if resp.status_code != 200:
                print(f"warning: {resp.status_code} for {path}", file=sys.stderr)
    app.extensions["db"].dispose()

    def ms(x: float) -> float:
        return x * 1000 / n

    named_cpu, named_wall = sum(timers.cpu.values()), sum(timers.wall.values())
    rows = sorted(timers.cpu, key=lambda k: -timers.wall[k])
    width = max(len(r) for r in rows + ["Flask/Werkzeug/test client (unclaimed)"])
    print(f"\n{args.groups:,} groups: {n} requests, one at a time, in-process "
          f"(busy share of the machine now: {run.busy_share():.0%})\n")
    print(f"{'step':<{width}}  {'CPU ms':>7} {'wall ms':>8} {'wait ms':>8} {'calls':>6}")
    for k in rows:
        print(f"{k:<{width}}  {ms(timers.cpu[k]):>7.2f} {ms(timers.wall[k]):>8.2f} "
              f"{ms(timers.wall[k] - timers.cpu[k]):>8.2f} {timers.calls[k] / n:>6.1f}")
    rest_cpu, rest_wall = total_cpu - named_cpu, total_wall - named_wall
    print(f"{'Flask/Werkzeug/test client (unclaimed)':<{width}}  {ms(rest_cpu):>7.2f} "
          f"{ms(rest_wall):>8.2f} {ms(rest_wall - rest_cpu):>8.2f}")
    print(f"{'total per request':<{width}}  {ms(total_cpu):>7.2f} {ms(total_wall):>8.2f} "
          f"{ms(total_wall - total_cpu):>8.2f}")
    print("\nCPU = this process's thread CPU; wait = wall - CPU (PostgreSQL, or waiting for a CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
