"""The search benchmark: synthetic listings at scale, the production server under load.

    python -m bench.run [--sizes 10000,100000] [--duration 15]    (or `make bench`)
    python -m bench.generate --url URL --groups N                  fill one database
    python -m bench.breakdown [--groups N]                         CPU/wall per request step
    python -m bench.profile [--groups N] [--cpu]                   py-spy on the workers

See docs/benchmarks.md for what is measured and the targets.
"""

from __future__ import annotations


def libpq_url(url: str) -> str:
    """psycopg wants the libpq form; the app's DATABASE_URL names the SQLAlchemy driver."""
    for prefix in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix):]
    return url
