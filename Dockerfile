# syntax=docker/dockerfile:1
# cachescope: Prometheus exporter for Redis and Memcached fleets.
# Build: docker build -t cachescope .   Run: docker run -p 9808:9808 cachescope --target redis://redis:6379

ARG PYTHON_VERSION=3.11
# Any Debian-like image with python (and its venv module) of that version will do:
# tests/test_container.py builds on a debootstrapped Debian where no registry is reachable.
ARG BASE_IMAGE=python:${PYTHON_VERSION}-slim

# --- build: a virtual environment holding the wheel and its dependencies, then no pip in it
FROM ${BASE_IMAGE} AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN python -m venv /opt/cachescope \
    && /opt/cachescope/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/cachescope/bin/pip install --no-compile /wheels/*.whl \
    && /opt/cachescope/bin/pip uninstall --yes pip setuptools

# --- runtime: the virtual environment only; no compilers, no pip (not even the base's), no
# pip cache, no sources
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="cachescope" \
      org.opencontainers.image.description="Prometheus exporter and alerting pack for Redis and Memcached" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# The base image's own pip goes too: python:*-slim ships /usr/local/bin/pip* and pip in
# site-packages and in ensurepip's bundle; Debian's python3-venv pulls in pip's wheel in
# /usr/share/python-wheels. Any of them installs code into a running container.
RUN groupadd --system --gid 10001 cachescope \
    && useradd --system --uid 10001 --gid cachescope --no-create-home --shell /usr/sbin/nologin cachescope \
    && rm -rf /usr/local/bin/pip* /usr/bin/pip* /usr/share/python-wheels/pip-*.whl \
        /usr/local/lib/python3*/site-packages/pip* /usr/lib/python3/dist-packages/pip* \
        /usr/local/lib/python3*/ensurepip/_bundled/pip-*.whl
COPY --from=build /opt/cachescope /opt/cachescope
ENV PATH=/opt/cachescope/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 9808
# Probes wherever the exporter (PID 1) really listens, in TLS or plain HTTP as the port speaks;
# /-/healthy needs no password even with basic_auth_users (docs/security.md).
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["cachescope", "healthcheck"]
ENTRYPOINT ["cachescope", "serve"]
CMD ["--web.listen-address", ":9808"]
