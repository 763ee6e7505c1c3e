# syntax=docker/dockerfile:1
# The ioc-monitor image: one image, every role chosen by the command (ENTRYPOINT is `ioc`):
#   docker run IMAGE worker | notify | simulate --kafka ...      (docker-compose.yml runs all three)
# Python 3.11 (pyproject: requires-python >= 3.11), non-root, RocksDB table store, librdkafka and the
# Grafana tooling included. `ioc up` and `ioc dev` need a JVM and influxd, so the image leaves them out
# (IOC_DEV_COMMANDS=0): every command `ioc --help` lists here runs here.

# -- build: install the package and its dependencies into a virtualenv ---------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A C compiler for the compiled domain core (`ioc native build` below); the runtime stage has none.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/ioc
WORKDIR /src
# Only what the package is built from (pyproject's [tool.setuptools] packages and package data);
# README.m[d]: the readme is optional for the build, the glob does not fail when it is absent.
COPY pyproject.toml README.m[d] ./
COPY dossiers/ dossiers/
COPY producers/ producers/
COPY streams/ streams/
COPY notifier/ notifier/
COPY grafana/ grafana/
COPY ioc/ ioc/
COPY kafka_settings/ kafka_settings/
COPY kafka_access/ kafka_access/
COPY reports/ reports/
# Every dependency ships manylinux wheels for CPython 3.11 (rocksdict and confluent-kafka included):
# the compiler is for our own core only.
RUN /opt/ioc/bin/pip install ".[rocksdb,librdkafka,grafana,gateway]" \
    && /opt/ioc/bin/python -c "import rocksdict, confluent_kafka, faust, grafana_foundation_sdk, aiohttp, ioc.cli"
# The domain core's hot path compiled by mypyc from these sources (ioc/native.py: the same modules, faster),
# then the package installed again with the extensions as package data. mypy is only the compiler: removed.
# The last line fails the build unless the installed copy runs compiled and up to date.
RUN /opt/ioc/bin/pip install "mypy>=1.18" \
    && /opt/ioc/bin/python -m ioc.cli native build \
    && /opt/ioc/bin/pip install --no-deps --force-reinstall . \
    && /opt/ioc/bin/pip uninstall -y mypy \
    && cd / && /opt/ioc/bin/python -c "from ioc import native; assert native.check().state == 'compiled'"

# -- runtime ---------------------------------------------------------------------------------------------
FROM python:3.11-slim

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ioc-monitor" \
      org.opencontainers.image.description="Event-driven monitoring of Vietnamese public administrative service centres: stream worker, supervisor notifier and simulator (command: ioc)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV PATH=/opt/ioc/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    IOC_DATA_DIR=/var/lib/ioc/worker \
    IOC_NOTIFY_DB=/var/lib/ioc/notifier/notify.sqlite \
    IOC_SPOOL_PATH=/var/lib/ioc/spool/spool.sqlite \
    XDG_STATE_HOME=/var/lib/ioc/state \
    XDG_CACHE_HOME=/var/lib/ioc/cache \
    IOC_DEV_COMMANDS=0

# A fixed non-root uid/gid; the state directories exist in the image and belong to it, so volumes
# mounted there (named or anonymous) start with the right owner.
RUN groupadd --system --gid 10001 ioc \
    && useradd --system --uid 10001 --gid ioc --home-dir /var/lib/ioc --no-create-home \
               --shell /usr/sbin/nologin ioc \
    && mkdir -p /var/lib/ioc/worker /var/lib/ioc/notifier /var/lib/ioc/spool /var/lib/ioc/state \
                /var/lib/ioc/cache /var/lib/ioc/gateway \
    && chown -R ioc:ioc /var/lib/ioc

COPY --from=build /opt/ioc /opt/ioc

USER 10001:10001
WORKDIR /var/lib/ioc

# The worker's Prometheus /metrics (IOC_METRICS_PORT); health checks are defined in docker-compose.yml.
EXPOSE 9108

ENTRYPOINT ["ioc"]
CMD ["--help"]
