# syntax=docker/dockerfile:1
# The crime hotspots web service: `hotspots serve` on port 8000, data in the /data volume.
#
#   docker build -t crime-hotspots .
#   docker run --rm -p 8000:8000 -v hotspots-data:/data crime-hotspots
#   docker run --rm -v hotspots-data:/data crime-hotspots quickstart --force devon-and-cornwall \
#       --lad E06000027 --no-serve          # any `hotspots` command runs the same way
#
# Two stages: the build stage installs the project and its runtime dependencies (no dev tools)
# into a virtual environment; the final image copies only that environment.
#
# Reproducible: every runtime package is installed at the version in constraints.txt (written by
# tools/runtime_constraints.py from the environment the tests passed in), and pip and the build
# backend are pinned below. The base image should be pinned by digest too
# (python:3.11.7-slim@sha256:...); the digest could not be looked up where this file was
# written (no access to a container registry), so pass the one you have verified:
#   docker build --build-arg PYTHON_IMAGE=python:3.11.7-slim@sha256:<digest> -t crime-hotspots .
# This Dockerfile has not been built here: that machine had no Docker daemon.

ARG PYTHON_IMAGE=python:3.11.7-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Every runtime dependency ships manylinux wheels (numpy, pyarrow, shapely, pyproj, pyogrio,
# h3, scipy), so the slim image needs no compiler.
RUN python -m venv /opt/venv && /opt/venv/bin/pip install pip==26.3 setuptools==84.2.1 wheel==0.48.0
COPY pyproject.toml README.md constraints.txt LICENSE THIRD_PARTY_NOTICES.md ./
COPY cli ./cli
COPY pipelines ./pipelines
COPY boundaries ./boundaries
COPY geo_service ./geo_service
# A regular (not editable) install from pyproject: the package, its data files, no [dev] extras,
# each dependency at its pinned version, built with the pinned setuptools above (no isolation,
# which would fetch whichever setuptools is newest).
RUN /opt/venv/bin/pip install --no-build-isolation -c constraints.txt .

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOTSPOTS_DATA_DIR=/data
# A fixed, unprivileged user that owns the data volume and nothing else.
RUN groupadd --system --gid 10001 hotspots \
    && useradd --system --uid 10001 --gid hotspots --home-dir /home/hotspots --create-home \
        --shell /usr/sbin/nologin hotspots \
    && mkdir -p /data \
    && chown hotspots:hotspots /data
COPY --from=build /opt/venv /opt/venv
USER hotspots
WORKDIR /home/hotspots
VOLUME ["/data"]
EXPOSE 8000
# /health answers 200 whenever the service is up (an empty store included).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["hotspots"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
