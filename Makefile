# Thin wrapper over CMake. `make test` is the command README.md gives for the test suite;
# `make demo` runs the main job on the built-in default data and model.
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
# What the concurrency tests (ctest label `concurrency`, set in CMakeLists.txt) need: the TSan
# build compiles only these.
TSAN_TARGETS = ragtune test_server test_server_batcher test_search_concurrent test_team

.PHONY: all deps build asan tsan test test-fast demo demo-train bench fuzz format clean

all: build

deps:
	@./scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DRT_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# ThreadSanitizer: only the concurrency tests (the server's slots and batcher, concurrent search,
# parallel streaming clients), so it adds minutes, not another whole suite.
tsan:
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DRT_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS) --target $(TSAN_TARGETS)

# The whole suite, then the same suite under ASan+UBSan, then the concurrency tests under TSan.
# All must pass.
test: deps build asan tsan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(TSAN_BUILD) && ctest --output-on-failure -j $(JOBS) -L concurrency

# The fast part only (unit label), for the edit-compile loop.
test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -L unit

demo: deps build
	@./scripts/demo.sh $(BUILD)

# The training tour: tokenizer, pretraining, q8_0 GGUF, generation, LoRA fine-tune and merge.
demo-train: deps build
	@./scripts/demo-train.sh $(BUILD)

bench: build
	@./bench/run_all.sh $(BUILD)

fuzz:
	@CC=clang cmake -S . -B build-fuzz -DRT_FUZZ=ON -DRT_SANITIZE=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) build-fuzz
