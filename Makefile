# The two commands a newcomer needs (see README):
#   make run    install build deps, build, start shopd on the embedded topology
#   make test   install test deps, build, run every test (ctest), then the
#               unit tests under ASan + UBSan and every fuzzer for FUZZ_SECONDS
#   make fuzz   build the libFuzzer targets (fuzz/README.md)
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
# The sanitizer + fuzzing build (clang 14), apart from the normal one.
ASAN_DIR ?= build-asan
CLANGXX ?= clang++-14
FUZZ_SECONDS ?= 30

.PHONY: run test build deps test-deps clean bench fuzz asan-test fuzz-run

deps:
	@bash scripts/install_deps.sh build

test-deps:
	@bash scripts/install_deps.sh test

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/shopd serve

$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=$(CLANGXX) -DSHOPD_FUZZ=ON

test: test-deps $(BUILD_DIR)/build.ninja $(ASAN_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ctest -L unit --output-on-failure -j $(JOBS)
	bash scripts/run_fuzzers.sh $(ASAN_DIR) $(FUZZ_SECONDS)

fuzz: test-deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS) --target fuzzers

# The unit tests under ASan + UBSan (the integration tests run on the normal build).
asan-test: test-deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ctest -L unit --output-on-failure -j $(JOBS)

fuzz-run: fuzz
	bash scripts/run_fuzzers.sh $(ASAN_DIR) $(FUZZ_SECONDS)

bench:
	bash bench/run.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
