# wyoming-streamtts. GPU image (XTTS; needs the NVIDIA container toolkit, whose driver is all it takes
# from the host: PyTorch's wheels bring their own CUDA libraries, so the base is plain Debian too):
#   docker build -t wyoming-streamtts .
# CPU image (gTTS, Piper, espeak-ng and NLLB translation in CTranslate2; no PyTorch, no CUDA):
#   docker build -t wyoming-streamtts:cpu --build-arg EXTRAS=translate,piper .
# NLLB converter (PyTorch; run once, then removed: README, "Docker"):
#   docker build -t wyoming-streamtts:nllb-torch --build-arg EXTRAS=nllb-torch .
# Home Assistant add-on (stage `addon`, on Home Assistant's Debian base; addon/DOCS.md), for amd64 and arm64:
#   docker buildx build --platform linux/arm64 --target addon \
#     --build-arg BUILD_FROM=ghcr.io/home-assistant/aarch64-base-debian:bookworm --build-arg EXTRAS=translate,piper .
# podman builds OCI images unless told otherwise, and the OCI format has no HEALTHCHECK: build with
# `podman build --format docker ...` to keep it.
ARG BUILD_FROM=debian:bookworm-slim
FROM ${BUILD_FROM} AS server

ARG EXTRAS=xtts,translate,nllb-torch,piper
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/data/huggingface \
    HOME=/home/streamtts \
    WYOMING_STREAMTTS_EXTRAS=${EXTRAS}

# Distribution packages float with the base image's security updates. FFmpeg only where XTTS reads
# recordings (through torchcodec); nothing else calls it.
# The service user's group has the gid USER names below (useradd --user-group picked another). Its
# home is an empty folder of its own, not the data volume: what libraries keep in a home (a cache, a
# telemetry id) stays out of the user's data, and a read-only /data is no error.
# hadolint ignore=DL3008
RUN ffmpeg="" \
    && case ",${EXTRAS}," in *,xtts,*) ffmpeg=ffmpeg ;; esac \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv espeak-ng ${ffmpeg} \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
    && groupadd --system --gid 10200 streamtts \
    && useradd --system --uid 10200 --gid 10200 --home-dir /home/streamtts --no-create-home streamtts \
    && mkdir -p /data /voices /home/streamtts && chown streamtts:streamtts /data /voices /home/streamtts

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY wyoming_streamtts ./wyoming_streamtts
# Bytecode compiled here, as root (pip's default): the service user cannot write it, and importing
# without it costs seconds at every start. A build machine whose pip needs its own CA bundle passes it
# as the secret pip-ca (script/container-test): mounted for this step only, kept in no layer.
RUN --mount=type=secret,id=pip-ca \
    if [ -f /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-warn-script-location ".[${EXTRAS}]" \
    && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools wheel \
    && rm -rf /app

USER 10200:10200
WORKDIR /data
# /voices (cloned-voice recordings, for XTTS) is no VOLUME: a run without XTTS would leave an anonymous
# volume each time. Mount a folder there (-v ./voices:/voices) where XTTS speaks.
VOLUME ["/data"]
EXPOSE 10200
# The server is PID 1: the check asks it where its own --uri says, so another port is checked there.
HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 \
    CMD ["/opt/venv/bin/python", "-m", "wyoming_streamtts.health", "--uri-of", "1"]
ENTRYPOINT ["/opt/venv/bin/wyoming-streamtts", "--uri", "tcp://0.0.0.0:10200", "--data-dir", "/data", "--voices-dir", "/voices"]
CMD []

# The add-on: the same server, its flags from the add-on's options (wyoming_streamtts/addon.py). It runs as
# root, as the Supervisor's /data and /share belong to root; no s6 init (config.yaml: init: false).
FROM server AS addon
ARG BUILD_ARCH=amd64
ARG BUILD_VERSION=0.1.0
LABEL io.hass.type="addon" io.hass.arch="${BUILD_ARCH}" io.hass.version="${BUILD_VERSION}"
# hadolint ignore=DL3002
USER 0:0
ENV HOME=/data
WORKDIR /data
ENTRYPOINT ["/opt/venv/bin/python", "-m", "wyoming_streamtts.addon"]

# Without --target, the server image (the last stage is the default).
FROM server
