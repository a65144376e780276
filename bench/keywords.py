"""The keyword search benchmark: `python -m bench.keywords [--duration 15]`.

At 100,000 groups (the search benchmark's database, `bench.run.ensure_bench_db`):

1. index build: `finder.keywords.sync.rebuild` of every active group, groups per second;
2. one sync after 1,000 groups changed (their descriptions updated in one transaction);
3. a keyword mix through the API (`GET /api/v1/groups`), from 4 threads for --duration
   seconds, from one thread (service time without queueing), and every search of the mix
   once, one at a time (a timed phase of a slow engine reaches only the mix's first searches,
   so only this pass compares the two engines on the same searches), p50 and p99, answered
   - by the Whoosh index (production), and
   - by PostgreSQL full-text search as the peer (`GROUPFINDER_KEYWORD_ENGINE=postgres`:
     `websearch_to_tsquery` on `finder.search.query.FTS_DOCUMENT`, with a GIN index on that
     expression made for this run), with the same filters, geo filter and pages,
   in the same run on the same data; and the mix without `q`, which must not get slower.

The mix: single words, synonyms, typos and two-word queries, each without `near`, with
`near` (postcodes and towns of `bench.mix`), and with `near` and filters. Results are
printed and written to bench/results/keywords-<stamp>.json. The load generator shares the
machine with gunicorn and PostgreSQL; numbers from a busy shared machine are ratios first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import psycopg

from bench import libpq_url, mix
from bench.run import (
    CONCURRENCY,
    RESULTS,
    Server,
    busy_share,
    drive,
    ensure_bench_db,
    ensure_template,
    log,
    machine_info,
    summarise,
)
from finder.config import database_url
from finder.db import make_engine
from finder.keywords import sync
from finder.search.query import FTS_DOCUMENT

N = 100_000
WORDS = {
    "single": ["stillbirth", "miscarriage", "ectopic", "dads", "evening", "molar", "grandparents",
               "hope"],
    "synonym": ["tfmr", "nicu", "rainbow", "fathers", "stillborn", "baby loss"],
    "typo": ["stilbirth", "miscarrage", "ectopik", "grandparnets", "neonatel"],
    "two_words": ["stillbirth evening", "ectopic online", "dads support", "miscarriage peer",
                  "neonatal parents"],
}
FILTERS = [(("format", "in_person"),), (("day", "tue"),), (("loss", "stillbirth"),),
           (("time", "evening"), ("day", "wed")), (("audience", "partners"),)]
FTS_INDEX = "bench_groups_fts"


def keyword_mix(url: str, seed: int, size: int = 120) -> list[tuple[str, str]]:
    """(kind, path) pairs: each word alone, near a place, and near a place with filters."""
    rng = random.Random(seed)
    places = [s.near for s in mix.draw(url, 40, seed)]
    out: list[tuple[str, str]] = []
    words = [(kind, w) for kind, ws in WORDS.items() for w in ws]
    while len(out) < size:
        kind, word = rng.choice(words)
        shape = rng.choice(("no_near", "near", "near_filters"))
        args: list[tuple[str, str]] = [("q", word)]
        if shape != "no_near":
            args.append(("near", rng.choice(places)))
        if shape == "near_filters":
            args.extend(rng.choice(FILTERS))
        out.append((f"{kind}/{shape}", f"/api/v1/groups?{urlencode(args)}"))
    return out


def without_q(paths: list[tuple[str, str]]) -> list[str]:
    """The same searches without `q` (those without `near` left out: they list everything)."""
    out = []
    for _kind, path in paths:
        base, _, qs = path.partition("?")
        args = [a for a in qs.split("&") if not a.startswith("q=")]
        if any(a.startswith("near=") for a in args):
            out.append(f"{base}?{'&'.join(args)}")
    return out


def measure_build(url: str, root: Path) -> dict:
    engine = make_engine(url)
    try:
        report = sync.rebuild(engine, root)
    finally:
        engine.dispose()
    return {"groups": report.indexed, "seconds": round(report.seconds, 2),
            "groups_per_s": round(report.indexed / report.seconds)}


def measure_sync(url: str, root: Path, changed: int, seed: int) -> dict:
    with psycopg.connect(libpq_url(url)) as conn:
        ids = [r[0] for r in conn.execute(
            "SELECT id FROM groups WHERE status = 'active' ORDER BY id")]
        chosen = random.Random(seed).sample(ids, changed)
        conn.execute("UPDATE groups SET description = description || ' (updated)' "
                     "WHERE id = ANY(%s)", (chosen,))
        conn.commit()
    engine = make_engine(url)
    try:
        report = sync.sync(engine, root)
        check = sync.check(engine, root)
    finally:
        engine.dispose()
    return {"changed": changed, "indexed": report.indexed, "removed": report.removed,
            "seconds": round(report.seconds, 3), "check_ok": check.ok}


def measure_match(root: Path, repeat: int = 3) -> dict:
    """Whoosh alone: `query.match` per word of the mix on one searcher (ms), with the
    terms' postings read afresh (`cold`, as after every sync) and from the searcher's
    cache (`warm`)."""
    from whoosh import index as whoosh_index

    from finder.keywords import query, scoring, store

    ix = whoosh_index.open_dir(str(store.current_dir(root)))
    out = {}
    with ix.searcher() as searcher:
        t0 = time.perf_counter()
        scorer = scoring.Scorer(searcher)
        scorer.lengths("text")
        scorer.lengths("spell")
        out["_scorer_open_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        for kind, words in WORDS.items():
            for word in words:
                cold, warm = [], []
                for _ in range(repeat):
                    scorer.forget()
                    t0 = time.perf_counter()
                    found = query.match(searcher, word, scorer)
                    cold.append((time.perf_counter() - t0) * 1000)
                    t0 = time.perf_counter()
                    query.match(searcher, word, scorer)
                    warm.append((time.perf_counter() - t0) * 1000)
                out[f"{kind}: {word}"] = {"ms": round(min(cold), 1),
                                          "warm_ms": round(min(warm), 1),
                                          "matches": len(found.ids) if found else 0}
    return out


def ensure_fts_index(url: str) -> float:
    """The peer's GIN index on the full-text document (made once per database)."""
    t0 = time.perf_counter()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(f"CREATE INDEX IF NOT EXISTS {FTS_INDEX} ON groups USING gin "
                     f"(({FTS_DOCUMENT.replace('g.', '')}))")
        conn.execute("ANALYZE groups")
    return round(time.perf_counter() - t0, 1)


def load(url: str, paths: list[str], env: dict[str, str], duration: float, log_name: str
         ) -> dict:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with Server(url, RESULTS / f"{log_name}.log") as server:
            drive(server.port, paths, CONCURRENCY, min(3.0, duration / 5), 10**9)  # warm up
            many = drive(server.port, paths, CONCURRENCY, duration, 10**9)
            one = drive(server.port, paths, 1, max(3.0, duration / 3), 10**9)
            # every search of the mix once, one at a time: a timed phase reaches only the
            # mix's first searches when an engine is slow, so its p50 is over other searches
            each = drive(server.port, paths, 1, 900.0, len(paths))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    bad = {s: c for s, c in many.statuses.items() if s != 200}
    return {"concurrent": {**summarise(many.latencies),
                           "rps": round(len(many.latencies) / many.elapsed, 1)},
            "single": summarise(one.latencies),
            "each_once": {**summarise(each.latencies),
                          "by_search_ms": {k: round(v[0] * 1000, 1)
                                           for k, v in each.by_search.items()}},
            "non_200": bad, "errors": many.errors[:5]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Benchmark keyword search (Whoosh vs PostgreSQL).")
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--output", type=Path)
    args = p.parse_args(argv)

    base = database_url()
    started = dt.datetime.now(dt.UTC)
    info = machine_info(base)
    log(f"Keyword benchmark, {N:,} groups; CPUs busy with other work: {busy_share():.0%}")
    fp = ensure_template(base)
    db = ensure_bench_db(base, N, args.seed, fp, force=False)
    url = db["url"]
    root = Path(tempfile.mkdtemp(prefix="groupfinder-kw-bench-"))
    try:
        log("Index build...")
        build = measure_build(url, root)
        log(f"  {build['groups']:,} groups in {build['seconds']} s = "
            f"{build['groups_per_s']:,}/s")
        log("Sync of 1,000 changed groups...")
        synced = measure_sync(url, root, 1000, args.seed)
        log(f"  {synced['indexed']:,} indexed in {synced['seconds']} s "
            f"(check {'ok' if synced['check_ok'] else 'FAILED'})")
        log("Whoosh alone, uncached, per word...")
        matching = measure_match(root)
        for word, m in matching.items():
            log(f"  {word}: {m}")
        log("PostgreSQL full-text GIN index for the peer...")
        gin_s = ensure_fts_index(url)
        kinds_paths = keyword_mix(url, args.seed)
        paths = [path for _kind, path in kinds_paths]
        results = {}
        for name, env in (("whoosh", {"GROUPFINDER_KEYWORD_ENGINE": "whoosh",
                                      "GROUPFINDER_INDEX_DIR": str(root)}),
                          ("postgres", {"GROUPFINDER_KEYWORD_ENGINE": "postgres",
                                        "GROUPFINDER_INDEX_DIR": str(root)})):
            log(f"Keyword mix through the API, answered by {name}...")
            results[name] = load(url, paths, env, args.duration, f"keywords-{name}")
            c, s = results[name]["concurrent"], results[name]["single"]
            e = results[name]["each_once"]
            log(f"  4 threads: p50 {c.get('p50_ms')} ms, p99 {c.get('p99_ms')} ms, "
                f"{c.get('rps')} req/s; 1 thread: p50 {s.get('p50_ms')} ms, "
                f"p99 {s.get('p99_ms')} ms ({s.get('count')} requests); every search once: "
                f"p50 {e.get('p50_ms')} ms, p99 {e.get('p99_ms')} ms, mean {e.get('mean_ms')} "
                f"ms; non-200: {results[name]['non_200']}")
        log("The same searches without q (near only)...")
        results["no_q"] = load(url, without_q(kinds_paths), {"GROUPFINDER_INDEX_DIR": str(root)},
                               args.duration, "keywords-no-q")
        c = results["no_q"]["concurrent"]
        log(f"  4 threads: p50 {c.get('p50_ms')} ms, p99 {c.get('p99_ms')} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    w, pg = results["whoosh"]["single"], results["postgres"]["single"]
    ratio = round(w["p50_ms"] / pg["p50_ms"], 2) if pg.get("p50_ms") else None
    we, pge = results["whoosh"]["each_once"], results["postgres"]["each_once"]
    ratio_each = round(we["p50_ms"] / pge["p50_ms"], 2) if pge.get("p50_ms") else None
    both = we["by_search_ms"].keys() & pge["by_search_ms"].keys()
    faster = sum(we["by_search_ms"][k] <= pge["by_search_ms"][k] for k in both)
    out = {"started": started.isoformat(), "machine": info, "groups": N,
           "busy_share_end": round(busy_share(), 2), "build": build, "sync": synced,
           "gin_index_s": gin_s, "whoosh_match_uncached": matching, "mix": kinds_paths,
           "results": results,
           "ratio_p50_whoosh_over_postgres_single": ratio,
           "ratio_p50_whoosh_over_postgres_each_once": ratio_each,
           "whoosh_as_fast_or_faster_on": f"{faster} of {len(both)}",
           "targets": {"p50_ms": 20.0, "ratio": 1.0, "build_groups_per_s": 3000,
                       "sync_1000_s": 2.0}}
    log(f"Whoosh/PostgreSQL p50 (1 thread, timed): {ratio}; every search once: {ratio_each}; "
        f"Whoosh as fast or faster on {faster} of {len(both)} searches")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = args.output or RESULTS / f"keywords-{started:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    log(f"Wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
