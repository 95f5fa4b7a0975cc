# syntax=docker/dockerfile:1
# podserve container image (CPU). docs/deploy.md explains building, baking a model and deploying.
#
#   docker build -t podserve .                                           # model chosen at run time (MODEL_NAME)
#   docker build -t podserve-smol --build-arg MODEL_NAME=org/name .       # model baked in, served offline
#   docker build --secret id=HF_TOKEN,env=HF_TOKEN --build-arg MODEL_NAME=org/gated-model .   # gated model
#
# The build stage runs the CI's own steps (scripts/setup, then `make build`); tests/hub/test_dockerfile.py
# checks that they stay the same. The CUDA variant, same entry point and build arguments: docker/Dockerfile.cuda.

# ---- build: the same set-up and build as CI (.ci/run -> make test -> make build -> scripts/setup) ----
FROM debian:12 AS build
WORKDIR /src
# Set-up first, on its own layer: it only changes when the scripts or pinned requirements do.
COPY scripts/ scripts/
COPY requirements/ requirements/
RUN scripts/setup
COPY . .
RUN make build

# ---- runtime: the binary and the shared libraries it links, nothing else ----
FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libcurl4 libonig5 libxxhash0 \
      libboost-json1.81.0 libsqlite3-0 libpq5 libicu72 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/release/podserve /usr/local/bin/podserve
COPY docker/entrypoint.sh /usr/local/bin/podserve-entrypoint

# The RunPod vLLM worker's cache layout: a network volume (or RunPod's cached models) at /runpod-volume.
ENV BASE_PATH=/runpod-volume \
    HF_HOME=/runpod-volume/huggingface-cache/hub \
    HUGGINGFACE_HUB_CACHE=/runpod-volume/huggingface-cache/hub

# Optional: bake a model into the image (the vLLM worker's "Option 2"). It goes to /models/hub, not under
# /runpod-volume, so a network volume mounted there cannot hide it; at run time the image is then offline.
ARG MODEL_NAME=""
ARG MODEL_REVISION=""
ARG TOKENIZER_NAME=""
ARG TOKENIZER_REVISION=""
RUN --mount=type=secret,id=HF_TOKEN,required=false \
    if [ -n "$MODEL_NAME" ]; then \
      HF_TOKEN="$(cat /run/secrets/HF_TOKEN 2>/dev/null || true)" HF_HUB_CACHE=/models/hub \
        podserve download "$MODEL_NAME" ${MODEL_REVISION:+--revision "$MODEL_REVISION"} \
          ${TOKENIZER_NAME:+--tokenizer "$TOKENIZER_NAME"} \
          ${TOKENIZER_REVISION:+--tokenizer-revision "$TOKENIZER_REVISION"}; \
    fi
ENV MODEL_NAME=${MODEL_NAME} \
    MODEL_REVISION=${MODEL_REVISION} \
    TOKENIZER_NAME=${TOKENIZER_NAME} \
    TOKENIZER_REVISION=${TOKENIZER_REVISION} \
    HF_HUB_CACHE=${MODEL_NAME:+/models/hub} \
    HF_HUB_OFFLINE=${MODEL_NAME:+1}

EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/podserve-entrypoint"]
