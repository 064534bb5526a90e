# The two commands a newcomer needs (see README):
#   make run    install build deps, build, start shopd on the embedded topology
#   make test   install test deps, build, run every test (ctest)
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)

.PHONY: run test build deps test-deps clean bench

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

test: test-deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

bench:
	bash bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
