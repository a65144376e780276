"""Response headers for every page: what may load, what may be kept, and compression.

* Content-Security-Policy: only our own scripts, styles and images; the map's tile host is
  added only when a map is configured. `/embed` may be framed by the configured sites only.
* `Cache-Control: no-store` on HTML, so a shared family computer keeps no copy of a search.
* Compression (Flask-Compress) for HTML, CSS, JavaScript, JSON and calendars.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, request, send_from_directory
from flask_compress import Compress

COMPRESSED_TYPES = ["text/html", "text/css", "application/javascript", "text/javascript",
                    "application/json", "text/calendar", "image/svg+xml"]


def tile_origin(url: str) -> str | None:
    parts = urlsplit(url.replace("{s}", "a"))
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def content_security_policy(*, framed_by: str) -> str:
    img = "'self' data:"
    tiles = current_app.config.get("MAP_TILE_URL") or ""
    origin = tile_origin(tiles) if tiles else None
    if origin:
        img += f" {origin}"
    return (f"default-src 'self'; img-src {img}; style-src 'self'; script-src 'self'; "
            f"frame-ancestors {framed_by}; form-action 'self'; base-uri 'none'; "
            "object-src 'none'")


def embed_ancestors() -> str:
    configured = (current_app.config.get("EMBED_FRAME_ANCESTORS") or "").split()
    return " ".join(["'self'", *configured])


def init_app(app: Flask) -> None:
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESSED_TYPES)
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIN_SIZE", 500)
    app.config.setdefault("COMPRESS_STREAMS", True)  # static files are sent as streams
    Compress(app)

    @app.after_request
    def security_headers(response):
        # Nothing third-party may load: no fonts, maps (unless configured), scripts, analytics.
        framed_by = embed_ancestors() if request.endpoint == "web.embed_page" else "'self'"
        response.headers.setdefault("Content-Security-Policy",
                                    content_security_policy(framed_by=framed_by))
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Permissions-Policy",
                                    "geolocation=(self), camera=(), microphone=()")
        if response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/favicon.ico")
    def favicon():
        return send_from_directory(app.static_folder, "favicon.ico",
                                   mimetype="image/vnd.microsoft.icon", max_age=86400)
