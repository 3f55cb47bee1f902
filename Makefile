# Two commands do everything on a fresh Debian 12 machine:
#   make demo   install dependencies, build, and run the demo
#   make test   install dependencies, build, and run every test (what CI runs)
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=
ROCMFORGE  := $(BUILD)/src/cli/rocmforge

.PHONY: all deps configure build test test-unit test-asan fuzz demo bench-grammar clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

test: test-unit test-asan fuzz

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# The unit and conformance tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DROCMFORGE_SANITIZE=ON -DROCMFORGE_CUDA=OFF >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS) -LE slow

# libFuzzer on the GGUF reader, the GBNF parser, JSON Schema to GBNF and the tool-call reader,
# each for FUZZ_SECONDS, starting from the committed seed corpora (tests/fuzz/corpus/TARGET).
FUZZ_TARGETS := fuzz_gguf_reader fuzz_gbnf_parser fuzz_json_schema fuzz_tool_call_reader
fuzz: deps
	@CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DROCMFORGE_FUZZ=ON \
		-DROCMFORGE_CUDA=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) --target $(FUZZ_TARGETS) -j$(JOBS)
	@for t in $(FUZZ_TARGETS); do scripts/run-fuzz.sh $(FUZZ_BUILD)/tests/fuzz/$$t $(FUZZ_SECONDS) || exit 1; done

# The shipped demo model (demo/, docs/demo-model.md: 5.8M parameters trained on Shakespeare) writes
# a passage; the same one every time (fixed seed), then the speed.
DEMO_MODEL := demo/rocmforge-demo-shakespeare-q4_k_m.gguf
demo: build
	$(ROCMFORGE) generate -m $(DEMO_MODEL) -s 42 -p "ROMEO:" -n 120 -c 256 --temp 0.8

# Constrained decoding's cost at 16 sequences on a TinyLlama-shaped model (random weights, the
# Llama 2 vocabulary of the reference data): mask alone, and whole steps with and without a grammar.
TINYLLAMA_SYNTH := models/tinyllama-synth-q4_k.gguf
SAMPLING_SYNTH := models/one-layer-llama2-vocab.gguf
bench-grammar: build
	@mkdir -p models
	@test -f $(TINYLLAMA_SYNTH) || $(BUILD)/tools/rocmforge-synth --arch llama --layers 22 --embd 2048 --ff 5632 \
		--heads 32 --kv-heads 4 --type Q4_K --vocab-from ../shared/models/llama-gqa-q4_0.gguf --out $(TINYLLAMA_SYNTH)
	@test -f $(SAMPLING_SYNTH) || $(BUILD)/tools/rocmforge-synth --arch llama --layers 1 --embd 256 --ff 512 \
		--heads 4 --kv-heads 1 --type Q8_0 --vocab-from ../shared/models/llama-gqa-q4_0.gguf --out $(SAMPLING_SYNTH)
	ROCMFORGE_BENCH_MODEL=$(TINYLLAMA_SYNTH) ROCMFORGE_BENCH_SAMPLING_MODEL=$(SAMPLING_SYNTH) \
		$(BUILD)/bench/grammar/constrained_bench

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
