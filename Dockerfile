# syntax=docker/dockerfile:1
# cachescope: Prometheus exporter for Redis and Memcached fleets.
# Build: docker build -t cachescope .   Run: docker run -p 9808:9808 cachescope --target redis://redis:6379

ARG PYTHON_VERSION=3.11

# --- build: make the wheel, then a virtual environment holding it and its dependencies
FROM python:${PYTHON_VERSION}-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
    && python -m venv /opt/cachescope \
    && /opt/cachescope/bin/pip install /wheels/*.whl

# --- runtime: the virtual environment only; no compilers, no pip cache, no sources
FROM python:${PYTHON_VERSION}-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="cachescope" \
      org.opencontainers.image.description="Prometheus exporter and alerting pack for Redis and Memcached" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 cachescope \
    && useradd --system --uid 10001 --gid cachescope --no-create-home --shell /usr/sbin/nologin cachescope
COPY --from=build /opt/cachescope /opt/cachescope
ENV PATH=/opt/cachescope/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 9808
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:9808/-/healthy', timeout=2).status != 200)"]
ENTRYPOINT ["cachescope", "serve"]
CMD ["--web.listen-address", ":9808"]
