# Thin wrapper over CMake. `make test` is the command README.md gives for the test suite;
# `make demo` runs the main job on the built-in default data and model.
JOBS ?= 2
BUILD ?= build
ASAN_BUILD ?= build-asan

.PHONY: all deps build asan test test-fast demo demo-train bench fuzz format clean

all: build

deps:
	@./scripts/install-deps.sh

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

asan:
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DRT_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)

# The whole suite, then the same suite under ASan+UBSan. Both must pass.
test: deps build asan
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

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
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
