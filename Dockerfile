# wyoming-streamtts. GPU image (default, needs the NVIDIA container toolkit):
#   docker build -t wyoming-streamtts .
# CPU image (gTTS, Piper and espeak-ng, translation):
#   docker build -t wyoming-streamtts:cpu --build-arg BASE=debian:bookworm-slim --build-arg EXTRAS=translate,piper .
ARG BASE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
FROM ${BASE}

ARG EXTRAS=xtts,translate,piper
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/data/huggingface

# Distribution packages float with the base image's security updates.
# The service user's group has the gid USER names below (useradd --user-group picked another).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv espeak-ng ffmpeg \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10200 streamtts \
    && useradd --system --uid 10200 --gid 10200 --home-dir /data --create-home streamtts \
    && mkdir -p /voices && chown streamtts:streamtts /voices

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY wyoming_streamtts ./wyoming_streamtts
# Bytecode compiled here, as root: the service user cannot write it, and importing without it
# costs seconds at every start.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install ".[${EXTRAS}]"

USER 10200:10200
VOLUME ["/data", "/voices"]
EXPOSE 10200
HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 \
    CMD ["/opt/venv/bin/python", "-m", "wyoming_streamtts.health", "--uri", "tcp://127.0.0.1:10200"]
ENTRYPOINT ["/opt/venv/bin/wyoming-streamtts", "--uri", "tcp://0.0.0.0:10200", "--data-dir", "/data", "--voices-dir", "/voices"]
CMD []
