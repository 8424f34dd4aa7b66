# Thin wrapper over CMake.  `make run` builds and starts echod; `make test`
# builds and runs every test in a plain and an ASan+UBSan build, and the
# Windows build (mingw-w64) under Wine, and checks that a -O3 build builds.
BUILD       ?= build
ASAN_BUILD  ?= build-asan
RELEASE_BUILD ?= build-release
MINGW_BUILD ?= build-mingw
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
ARGS        ?=

.PHONY: all deps deps-test build build-asan build-release test test-plain test-asan test-windows run install clean bench bench-quick bench-micro

all: build

deps:
	@sh scripts/deps.sh

deps-test:
	@sh scripts/deps.sh test

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

build-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DNETEV_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# -O3 without the tests: gcc warns at -O3 where it does not at -O2
# (maybe-uninitialized), and warnings are errors.
build-release: deps
	cmake -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release -DNETEV_TESTS=OFF $(CMAKE_FLAGS)
	cmake --build $(RELEASE_BUILD) -j$(JOBS)

test-plain: deps-test build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: deps-test build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(JOBS)

test-windows: deps-test
	MINGW_BUILD=$(MINGW_BUILD) JOBS=$(JOBS) sh scripts/test-windows.sh

test: test-plain test-asan test-windows build-release

run: build
	./$(BUILD)/apps/echod $(ARGS)

install: build
	cmake --install $(BUILD)

# Benchmarks (bench/run_bench.py --help).  The peers' libraries are installed
# first, so that configuring the build finds them.
bench:
	@sh scripts/bench-deps.sh
	@$(MAKE) --no-print-directory build
	python3 bench/run_bench.py --build $(BUILD) $(ARGS)

bench-quick:
	@sh scripts/bench-deps.sh
	@$(MAKE) --no-print-directory build
	python3 bench/run_bench.py --quick --build $(BUILD) $(ARGS)

# netev against bare epoll loops on N socket pairs (bench/micro_pairs.c).
bench-micro: build
	./$(BUILD)/bench/micro_pairs $(ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(MINGW_BUILD) $(RELEASE_BUILD)
