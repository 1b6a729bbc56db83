# wyoming-streamtts. GPU image (default: XTTS, needs the NVIDIA container toolkit):
#   docker build -t wyoming-streamtts .
# CPU image (gTTS, Piper, espeak-ng and NLLB translation in CTranslate2; no PyTorch, no CUDA):
#   docker build -t wyoming-streamtts:cpu --build-arg BASE=debian:bookworm-slim --build-arg EXTRAS=translate,piper .
# NLLB converter (PyTorch; run once, then removed: README, "Docker"):
#   docker build -t wyoming-streamtts:nllb-torch --build-arg BASE=debian:bookworm-slim --build-arg EXTRAS=nllb-torch .
ARG BASE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
FROM ${BASE}

ARG EXTRAS=xtts,translate,nllb-torch,piper
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    HF_HOME=/data/huggingface \
    WYOMING_STREAMTTS_EXTRAS=${EXTRAS}

# Distribution packages float with the base image's security updates. FFmpeg only where XTTS reads
# recordings (through torchcodec); nothing else calls it.
# The service user's group has the gid USER names below (useradd --user-group picked another).
# hadolint ignore=DL3008
RUN ffmpeg="" \
    && case ",${EXTRAS}," in *,xtts,*) ffmpeg=ffmpeg ;; esac \
    && apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv espeak-ng ${ffmpeg} \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10200 streamtts \
    && useradd --system --uid 10200 --gid 10200 --home-dir /data --create-home streamtts \
    && mkdir -p /voices && chown streamtts:streamtts /voices

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
    && rm -rf /app

USER 10200:10200
WORKDIR /data
VOLUME ["/data", "/voices"]
EXPOSE 10200
HEALTHCHECK --interval=30s --timeout=10s --start-period=300s --retries=3 \
    CMD ["/opt/venv/bin/python", "-m", "wyoming_streamtts.health", "--uri", "tcp://127.0.0.1:10200"]
ENTRYPOINT ["/opt/venv/bin/wyoming-streamtts", "--uri", "tcp://0.0.0.0:10200", "--data-dir", "/data", "--voices-dir", "/voices"]
CMD []
