"""The WSGI entry point for gunicorn: `gunicorn finder.wsgi:app`."""

from finder import create_app

app = create_app()
