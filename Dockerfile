# The finder's app image, for docker-compose.yml (PostGIS runs in its own container).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml alembic.ini ./
COPY finder finder
COPY ingest ingest
COPY migrations migrations
COPY templates templates
COPY demo demo
# editable, so templates/, migrations/ and demo/ are found beside the package
RUN pip install --no-cache-dir -e .
EXPOSE 8000
CMD ["sh", "-c", "groupfinder db upgrade && groupfinder places load-bundled && groupfinder demo load && groupfinder index sync && groupfinder serve --host 0.0.0.0 --port 8000"]
