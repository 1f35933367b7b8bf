# orderflow front door. `make run` and `make test` are the two commands; everything else is a step of them.
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
WERROR ?= OFF
SANITIZE ?=
JOBS ?= $(shell nproc)
KAFKA ?= mock
CTEST_ARGS ?=
# Unit and integration tests run two at a time; fault tests and the real-Kafka tests run alone (RUN_SERIAL).
TEST_JOBS ?= 2

CMAKE_GEN = $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

# What `make run` and `make up` run: built alone (no tests, benchmarks or fuzz targets) by `make build-run`.
RUN_TARGETS := kafka-dev-broker order-producer payment-service notification-service analytics-service dlq-tool lag-exporter

.PHONY: all deps deps-run configure configure-run build build-run test test-unit test-asan run up down bench lint format kafka-up kafka-down kafka-jars fuzz clean images compose-up compose-down compose-test

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DORDERFLOW_WERROR=$(WERROR) -DORDERFLOW_SANITIZE="$(SANITIZE)" \
	  -DORDERFLOW_BUILD_TESTS=ON -DORDERFLOW_BUILD_BENCH=ON >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# The demo's path: the packages that building and running need (not those of tests, benchmarks, the JDK
# unless KAFKA=real, lint), a build tree configured without tests when it is new (an existing one keeps its
# settings), and only RUN_TARGETS built.
deps-run:
	@scripts/install-deps.sh --run $(if $(filter real,$(KAFKA)),--kafka)

configure-run: deps-run
	@if [ -f $(BUILD_DIR)/CMakeCache.txt ]; then cmake -S . -B $(BUILD_DIR) >/dev/null; \
	else cmake -S . -B $(BUILD_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DORDERFLOW_WERROR=$(WERROR) -DORDERFLOW_SANITIZE="$(SANITIZE)" \
	  -DORDERFLOW_BUILD_TESTS=OFF -DORDERFLOW_BUILD_BENCH=OFF >/dev/null; fi

build-run: configure-run
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target $(RUN_TARGETS)

kafka-jars: deps
	@tools/kafka-local/fetch-jars.sh $(BUILD_DIR)/kafka

# Ends with `skipped: N`, counted from CTest's "The following tests did not run" list (a skip is never
# reported as passed); the exit status is ctest's, or 1 when ORDERFLOW_REQUIRE_ALL=1 and N > 0.
test: build kafka-jars
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j $(TEST_JOBS) $(CTEST_ARGS) 2>&1 \
	  | tee ctest-output.log; rc=$${PIPESTATUS[0]}; \
	  $(CURDIR)/scripts/count-skipped.sh ctest-output.log || { [ $$rc -ne 0 ] || rc=1; }; exit $$rc

test-unit: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L unit $(CTEST_ARGS)

# Sanitizer build of the unit and integration tests (ASan + UBSan) in its own build directory.
test-asan:
	@$(MAKE) --no-print-directory build BUILD_DIR=build-asan BUILD_TYPE=Debug SANITIZE=address,undefined
	@cd build-asan && ctest --output-on-failure -j $(TEST_JOBS) -L 'unit|integration' -LE kafka $(CTEST_ARGS)

run: build-run
	@KAFKA=$(KAFKA) scripts/run-demo.sh $(BUILD_DIR)

# Starts the dev broker in the background (for running the services by hand); `make down` stops it.
up: build-run
	@scripts/dev-broker.sh start $(BUILD_DIR)

down:
	@scripts/dev-broker.sh stop $(BUILD_DIR)

kafka-up: kafka-jars
	@tools/kafka-local/kafka-local.sh start --jars $(BUILD_DIR)/kafka/lib

kafka-down:
	@tools/kafka-local/kafka-local.sh stop

# The images of deploy/compose*.yaml from Debian's mirror and the Maven jars (no registry needed; see
# deploy/README.md). Needs a Docker daemon (compose_test starts one when none answers). orderflow:dev gets
# the binaries of BUILD_DIR (IMAGE_BINARIES=auto: when this machine runs the image's Debian release) or
# compiles them in Docker (IMAGE_BINARIES=source, deploy/Dockerfile as shipped).
IMAGE_BINARIES ?= auto
images: deps kafka-jars $(if $(filter source,$(IMAGE_BINARIES)),,build-run)
	@deploy/images/build-images.sh --binaries $(IMAGE_BINARIES) $(BUILD_DIR)

# deploy/compose.yaml on the images above; returns once every container is healthy. compose-down removes it.
compose-up: images
	@deploy/stack.sh up $(BUILD_DIR)

compose-down:
	@deploy/stack.sh down

# The container test alone (it is part of `make test`).
compose-test: build kafka-jars
	@cd $(BUILD_DIR) && ctest --output-on-failure -L compose $(CTEST_ARGS)

bench: build kafka-jars
	@bench/run-pipeline-bench.sh $(BUILD_DIR)
	@python3 bench/clickhouse_sink_bench.py --build-dir $(BUILD_DIR)

lint: configure
	@scripts/lint.sh $(BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

fuzz:
	@scripts/fuzz.sh

clean:
	@rm -rf $(BUILD_DIR) build-asan run
