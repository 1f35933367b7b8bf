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

CMAKE_GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all deps configure build test test-unit test-asan run up down bench lint format kafka-up kafka-down kafka-jars fuzz clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DORDERFLOW_WERROR=$(WERROR) -DORDERFLOW_SANITIZE="$(SANITIZE)" >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

kafka-jars: deps
	@tools/kafka-local/fetch-jars.sh $(BUILD_DIR)/kafka

test: build kafka-jars
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j $(TEST_JOBS) $(CTEST_ARGS)

test-unit: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -L unit $(CTEST_ARGS)

# Sanitizer build of the unit and integration tests (ASan + UBSan) in its own build directory.
test-asan:
	@$(MAKE) --no-print-directory build BUILD_DIR=build-asan BUILD_TYPE=Debug SANITIZE=address,undefined
	@cd build-asan && ctest --output-on-failure -j $(TEST_JOBS) -L 'unit|integration' -LE kafka $(CTEST_ARGS)

run: build
	@KAFKA=$(KAFKA) scripts/run-demo.sh $(BUILD_DIR)

# Starts the dev broker in the background (for running the services by hand); `make down` stops it.
up: build
	@scripts/dev-broker.sh start $(BUILD_DIR)

down:
	@scripts/dev-broker.sh stop $(BUILD_DIR)

kafka-up: kafka-jars
	@tools/kafka-local/kafka-local.sh start --jars $(BUILD_DIR)/kafka/lib

kafka-down:
	@tools/kafka-local/kafka-local.sh stop

bench: build kafka-jars
	@bench/run-pipeline-bench.sh $(BUILD_DIR)

lint: configure
	@scripts/lint.sh $(BUILD_DIR)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

fuzz:
	@scripts/fuzz.sh

clean:
	@rm -rf $(BUILD_DIR) build-asan run
