# A thin layer over CMake: `make run` starts the broker, `make test` runs every test.
# Both install missing Debian packages first (scripts/install-deps.sh; needs root).
JOBS ?= $(shell nproc)
CONF ?= conf/runnel.conf

.PHONY: all deps build build-asan build-fuzz run test unit integration fuzz clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build -j$(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRUNNEL_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

build-fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNNEL_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)

run: build
	./build/runnel-server -c $(CONF)

# Every test, against the sanitizer build: Criterion units, bounded fuzzing, then the
# integration suite that drives the real runnel-server with real Kafka clients.
test: build-asan build-fuzz
	@tests/run-all.sh

clean:
	rm -rf build build-asan build-fuzz
