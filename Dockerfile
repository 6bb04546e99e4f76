# syntax=docker/dockerfile:1
# Same steps as ./dev: a virtual environment with the project installed, then
# `kumkm serve`, which migrates before it serves. DATABASE_URL comes from the environment;
# without it the embedded PostgreSQL keeps its data under /data.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 kumkm && mkdir -p /data && chown kumkm /data
COPY --from=build /opt/venv /opt/venv
COPY --chown=kumkm alembic.ini /srv/kumkm/alembic.ini
COPY --chown=kumkm migrations /srv/kumkm/migrations
WORKDIR /srv/kumkm
USER kumkm
ENV PATH=/opt/venv/bin:$PATH \
    KUMKM_DATA_DIR=/data \
    KUMKM_HOST=0.0.0.0 \
    KUMKM_PORT=8000 \
    PYTHONUNBUFFERED=1
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"]
CMD ["kumkm", "serve"]
