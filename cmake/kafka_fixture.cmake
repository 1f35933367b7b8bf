# The real Apache Kafka broker (tools/kafka-local) as a CTest fixture, so a test written once runs on both
# the mock (kafka-dev-broker) and a real broker.
#
#   orderflow_real_kafka_fixture()
#     Registers real_kafka_start (FIXTURES_SETUP real_kafka) and real_kafka_stop (FIXTURES_CLEANUP), label
#     kafka. Start: fresh broker on a free port, data under ${CMAKE_BINARY_DIR}/kafka-test/, contract topics,
#     bootstrap `127.0.0.1:PORT` written to ${ORDERFLOW_KAFKA_BOOTSTRAP_FILE}. Idempotent (call it anywhere).
#   orderflow_kafka_variant(NAME test_name TARGET gtest_target [ARGS ...] [TIMEOUT s] [ENVIRONMENT ...]
#                           [LABELS extra...])
#     Runs gtest_target once more against the real broker: env ORDERFLOW_TEST_BROKER=real,
#     ORDERFLOW_KAFKA_BOOTSTRAP_FILE (and ORDERFLOW_KAFKA_BOOTSTRAP, its content), ORDERFLOW_BIN_DIR,
#     ORDERFLOW_SOURCE_DIR; FIXTURES_REQUIRED real_kafka; label kafka (plus LABELS). The broker is shared: use unique
#     topic and group names.
#
# Skip vs fail: with ORDERFLOW_TEST_BROKER=mock, or without jars because Maven Central/java/mvn are not
# available, real_kafka_start exits 77 (SKIP_RETURN_CODE) and writes no bootstrap file; every kafka test then
# skips itself (exit 77) because the bootstrap file is absent. CTest (3.25) runs the dependents of a skipped
# setup test, but not those of a failed one: jars present and the broker not starting is a failure of
# real_kafka_start, and its dependents are reported "Not Run" (failed).
include_guard(GLOBAL)

set(ORDERFLOW_KAFKA_DIR "${CMAKE_BINARY_DIR}/kafka" CACHE PATH
  "Kafka jars for the real-broker tests live in <dir>/lib (make kafka-jars fills build/kafka)")
set(ORDERFLOW_KAFKA_TEST_DIR "${CMAKE_BINARY_DIR}/kafka-test")
set(ORDERFLOW_KAFKA_BOOTSTRAP_FILE "${ORDERFLOW_KAFKA_TEST_DIR}/bootstrap")
set(ORDERFLOW_KAFKA_LOCAL_DIR "${CMAKE_CURRENT_LIST_DIR}/../tools/kafka-local")
cmake_path(NORMAL_PATH ORDERFLOW_KAFKA_LOCAL_DIR)
set(ORDERFLOW_KAFKA_SKIP_RETURN_CODE 77)

function(orderflow_real_kafka_fixture)
  get_property(registered GLOBAL PROPERTY ORDERFLOW_REAL_KAFKA_FIXTURE_REGISTERED)
  if(registered)
    return()
  endif()
  set_property(GLOBAL PROPERTY ORDERFLOW_REAL_KAFKA_FIXTURE_REGISTERED TRUE)

  add_test(NAME real_kafka_start
    COMMAND ${ORDERFLOW_KAFKA_LOCAL_DIR}/ctest-fixture.sh start ${ORDERFLOW_KAFKA_TEST_DIR} ${ORDERFLOW_KAFKA_DIR})
  # TIMEOUT covers a first-time jar download (~30 s) plus JVM start-ups on a busy 2-core box.
  set_tests_properties(real_kafka_start PROPERTIES FIXTURES_SETUP real_kafka LABELS kafka TIMEOUT 420
    SKIP_RETURN_CODE ${ORDERFLOW_KAFKA_SKIP_RETURN_CODE})

  add_test(NAME real_kafka_stop
    COMMAND ${ORDERFLOW_KAFKA_LOCAL_DIR}/ctest-fixture.sh stop ${ORDERFLOW_KAFKA_TEST_DIR})
  set_tests_properties(real_kafka_stop PROPERTIES FIXTURES_CLEANUP real_kafka LABELS kafka TIMEOUT 90)
endfunction()

function(orderflow_kafka_variant)
  cmake_parse_arguments(ARG "" "NAME;TARGET;TIMEOUT" "ARGS;ENVIRONMENT;LABELS" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_TARGET)
    message(FATAL_ERROR "orderflow_kafka_variant: NAME and TARGET are required")
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 180)
  endif()
  orderflow_real_kafka_fixture()

  # Skips (77) when the fixture did not start a broker; otherwise runs the test binary with the bootstrap.
  set(run_if_broker
    "if [ ! -s \"$ORDERFLOW_KAFKA_BOOTSTRAP_FILE\" ]; then echo \"SKIP: no real Kafka broker (fixture real_kafka skipped: ORDERFLOW_TEST_BROKER=mock or no jars)\"; exit ${ORDERFLOW_KAFKA_SKIP_RETURN_CODE}; fi; ORDERFLOW_KAFKA_BOOTSTRAP=$(cat \"$ORDERFLOW_KAFKA_BOOTSTRAP_FILE\"); export ORDERFLOW_KAFKA_BOOTSTRAP; exec \"$@\"")
  add_test(NAME ${ARG_NAME}
    COMMAND /bin/sh -c "${run_if_broker}" orderflow-kafka-variant $<TARGET_FILE:${ARG_TARGET}> ${ARG_ARGS})
  set_tests_properties(${ARG_NAME} PROPERTIES
    LABELS "kafka;${ARG_LABELS}"
    TIMEOUT ${ARG_TIMEOUT}
    FIXTURES_REQUIRED real_kafka
    SKIP_RETURN_CODE ${ORDERFLOW_KAFKA_SKIP_RETURN_CODE}
    RUN_SERIAL TRUE
    ENVIRONMENT "ORDERFLOW_TEST_BROKER=real;ORDERFLOW_KAFKA_BOOTSTRAP_FILE=${ORDERFLOW_KAFKA_BOOTSTRAP_FILE};ORDERFLOW_KAFKA_JARS_DIR=${ORDERFLOW_KAFKA_DIR}/lib;ORDERFLOW_KAFKA_LOCAL=${ORDERFLOW_KAFKA_LOCAL_DIR}/kafka-local.sh;ORDERFLOW_BIN_DIR=${CMAKE_BINARY_DIR}/bin;ORDERFLOW_SOURCE_DIR=${CMAKE_SOURCE_DIR};${ARG_ENVIRONMENT}")
endfunction()
