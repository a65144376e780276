"""Where a request's time goes: py-spy on both gunicorn workers under the benchmark load.

    .venv/bin/pip install py-spy        (a profiling tool, not a project dependency)
    python -m bench.profile [--groups 100000] [--duration 15]

Samples are taken with --idle, so time spent waiting for PostgreSQL counts as well as CPU
(with --cpu, on-CPU samples only: where the workers' CPU time goes). They are grouped twice:
by the step of the request that the innermost frame belongs to (geocoding, the nearby list,
the online list, result building, asdict, url_for, JSON...), and by layer: "PG round trip"
(inside psycopg's wait loop: sending, PostgreSQL working, receiving; "PG BEGIN" is the
implicit BEGIN), "SQLAlchemy" (its own Python: compiling, executing, building rows) and
"Python" (everything else). Milliseconds per request = samples / rate / requests, so they
add up to the time a worker spends on an average request (not the queue in front of it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench import mix, run
from finder.config import database_url

# (substring of a frame, step); the innermost matching frame of a sample names its step
STEPS = [
    ("handle_request (gunicorn/workers/", "gunicorn + Flask/Werkzeug request handling"),
    ("parse (finder/search/params.py", "parse query string"),
    ("resolve (finder/geocode/__init__.py", "geocode"),
    ("nearby (finder/search/query.py", "nearby list SQL"),
    ("online (finder/search/query.py", "online list SQL"),
    ("anywhere (finder/search/query.py", "anywhere list SQL"),
    ("from_rows (finder/search/results.py", "results.from_rows: rows -> objects"),
    ("(finder/schedules.py", "results.from_rows: finder.schedules (next meeting, describe)"),
    ("to_query (finder/search/params.py", "links"),
    ("json_response (finder/api/__init__.py", "JSON encoding (orjson)"),
    ("_checkout (sqlalchemy/pool/base.py", "pool checkout"),
    ("_release (finder/db.py", "connection release"),
]
ROUND_TRIP = "Connection.wait (psycopg/connection.py"
BEGIN = "_start_query (psycopg/_cursor_base.py"


def classify(frames: list[str]) -> tuple[str, str] | None:
    """(step, layer) of one sample, or None when the worker is idle between requests."""
    if not any("handle_request (gunicorn" in f for f in frames):
        return None
    step = "other"
    for frame in frames:
        for marker, name in STEPS:
            if marker in frame:
                step = name
    if any(ROUND_TRIP in f for f in frames):
        layer = "PG BEGIN" if any(BEGIN in f for f in frames) else "PG round trip"
    elif any("(sqlalchemy/" in f or "(geoalchemy2/" in f for f in frames):
        layer = "SQLAlchemy"
    else:
        layer = "Python"
    return step, layer


def aggregate(files: list[Path]) -> dict[tuple[str, str], int]:
    """Samples per (step, layer) from py-spy's raw (collapsed stack) output."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, n = line.rpartition(" ")
            if not stack or not n.isdigit():
                continue
            key = classify(stack.split(";"))
            if key is not None:
                counts[key] += int(n)
    return counts


def report(counts: dict[tuple[str, str], int], rate: int, requests: int,
           cpu: bool = False) -> str:
    layers = ["PG round trip", "PG BEGIN", "SQLAlchemy", "Python"]
    steps: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (step, layer), n in counts.items():
        steps[step][layer] += n

    def ms(n: int) -> float:
        return n / rate / max(1, requests) * 1000

    total = sum(counts.values())
    width = max(len(s) for s in steps) if steps else 10
    what = "of worker CPU time per request (on-CPU samples only)" if cpu else \
        "of worker time per request (waiting for PostgreSQL and for a CPU included)"
    lines = [f"{requests} requests profiled; {ms(total):.2f} ms {what}", "",
             f"{'step':<{width}}  {'ms/req':>7} {'share':>6}  " + "  ".join(
                 f"{x:>13}" for x in layers)]
    for step, by_layer in sorted(steps.items(), key=lambda kv: -sum(kv[1].values())):
        n = sum(by_layer.values())
        lines.append(f"{step:<{width}}  {ms(n):>7.2f} {n / total:>6.1%}  " + "  ".join(
            f"{ms(by_layer.get(x, 0)):>13.2f}" for x in layers))
    by_layer_total = {x: sum(steps[s].get(x, 0) for s in steps) for x in layers}
    lines.append(f"{'total':<{width}}  {ms(total):>7.2f} {1:>6.1%}  " + "  ".join(
        f"{ms(by_layer_total[x]):>13.2f}" for x in layers))
    return "\n".join(lines)


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy (profiling only; "
                 "uninstall afterwards)")
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Profile GET /api/v1/groups under load.")
    p.add_argument("--groups", type=int, default=100_000)
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--concurrency", type=int, default=run.CONCURRENCY)
    p.add_argument("--rate", type=int, default=200, help="samples per second per worker")
    p.add_argument("--cpu", action="store_true",
                   help="on-CPU samples only (no --idle): where the workers' CPU time goes")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--mix-size", type=int, default=run.MIX_SIZE)
    args = p.parse_args(argv)
    spy = py_spy()
    from finder.db import make_engine

    base = database_url()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run.RESULTS.mkdir(parents=True, exist_ok=True)
    fp = run.ensure_template(base)
    db = run.ensure_bench_db(base, args.groups, args.seed, fp, force=False)
    engine = make_engine(db["url"])
    try:
        captured = [c for c in mix.capture(engine, mix.draw(db["url"], args.mix_size, args.seed),
                                           dt.datetime.now(dt.UTC)) if not c.error]
    finally:
        engine.dispose()
    paths = [c.search.path for c in captured]
    outputs = []
    with run.Server(db["url"], run.RESULTS / f"gunicorn-profile-{stamp}.log") as server:
        run.drive(server.port, paths, args.concurrency, 3, len(paths) * 3)
        spies = []
        for pid in server.worker_pids():
            out = run.RESULTS / f"pyspy-{stamp}-{pid}.txt"
            outputs.append(out)
            spies.append(subprocess.Popen(
                [spy, "record", "--pid", str(pid), "--rate", str(args.rate),
                 *([] if args.cpu else ["--idle"]), "--nonblocking", "--format", "raw",
                 "--output", str(out), "--duration", str(int(args.duration) + 2)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1.0)  # py-spy attaches
        load = run.drive(server.port, paths, args.concurrency, args.duration, 10**7)
        for spy_proc in spies:
            spy_proc.wait(timeout=args.duration + 30)
    stats = run.summarise(load.latencies)
    print(f"\n{args.groups:,} groups, concurrency {args.concurrency}: p50 {stats['p50_ms']} ms, "
          f"p99 {stats['p99_ms']} ms, {len(load.latencies) / load.elapsed:.1f} req/s "
          f"(under py-spy)\n")
    text = report(aggregate(outputs), args.rate, len(load.latencies), args.cpu)
    print(text)
    summary = run.RESULTS / f"profile-{stamp}.txt"
    summary.write_text(text + "\n")
    print(f"\nRaw stacks: {', '.join(str(o.relative_to(run.ROOT)) for o in outputs)}; "
          f"summary: {summary.relative_to(run.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
