# House CMake helpers: every target gets C++20, the warning set and the sanitizers in one place.
include_guard(GLOBAL)

function(orderflow_apply_defaults target)
  target_compile_features(${target} PRIVATE cxx_std_20)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
      -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough>)
  if(ORDERFLOW_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(ORDERFLOW_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${ORDERFLOW_SANITIZE} -fno-omit-frame-pointer
      -fno-sanitize-recover=all)
    target_link_options(${target} PRIVATE -fsanitize=${ORDERFLOW_SANITIZE})
  endif()
endfunction()

# orderflow_library(NAME name SOURCES ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
# Creates orderflow_<name> with alias orderflow::<name>, public headers in include/. A dependency is PUBLIC
# only when a header in include/ includes its headers; everything src/ alone uses is PRIVATE.
function(orderflow_library)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(orderflow_${ARG_NAME} STATIC ${ARG_SOURCES})
  add_library(orderflow::${ARG_NAME} ALIAS orderflow_${ARG_NAME})
  # EXPORT_NAME: an installed library is orderflow::<name> in find_package(orderflow) too.
  set_target_properties(orderflow_${ARG_NAME} PROPERTIES EXPORT_NAME ${ARG_NAME})
  # BUILD_INTERFACE: installed, the headers are found under the prefix's include/ instead
  # (orderflow_install_library).
  target_include_directories(orderflow_${ARG_NAME}
    PUBLIC $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(orderflow_${ARG_NAME} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  orderflow_apply_defaults(orderflow_${ARG_NAME})
  # The public headers use C++20 (concepts, defaulted comparisons), so users compile as C++20 too.
  target_compile_features(orderflow_${ARG_NAME} PUBLIC cxx_std_20)
  if(ORDERFLOW_SANITIZE)
    target_link_options(orderflow_${ARG_NAME} INTERFACE -fsanitize=${ORDERFLOW_SANITIZE})
  endif()
endfunction()

# orderflow_install_library(name): installs orderflow::<name> for find_package(orderflow): the static
# archive into lib/, its include/ tree into include/, the target into the orderflowTargets export set
# (cmake/orderflow_install.cmake writes the package files).
function(orderflow_install_library name)
  install(TARGETS orderflow_${name} EXPORT orderflowTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endfunction()

# orderflow_use_service_allocator(target): the services' allocator. Each record costs 30-40 small
# allocations, many of them freed on another thread than the one that made them (librdkafka's broker
# threads free produced records); jemalloc's thread caches took a quarter of payment-service's CPU per
# order off glibc's malloc (README, Performance). ORDERFLOW_JEMALLOC=OFF (or a sanitizer build) keeps glibc's.
function(orderflow_use_service_allocator target)
  if(ORDERFLOW_JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
    target_sources(${target} PRIVATE "${PROJECT_SOURCE_DIR}/libs/runtime/src/jemalloc_conf.cpp")
  endif()
endfunction()

# orderflow_executable(NAME name SOURCES ... [DEPS ...]) -> build/bin/<name>
function(orderflow_executable)
  cmake_parse_arguments(ARG "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  orderflow_apply_defaults(${ARG_NAME})
endfunction()

# orderflow_test(NAME name SOURCES ... [DEPS ...] LABELS unit|integration|fault|kafka [TIMEOUT s] [NO_CTEST])
# Registers one GoogleTest binary as one CTest test (tests inside run in one process). NO_CTEST builds the
# binary only, for a test that runs solely as an orderflow_kafka_variant (cmake/kafka_fixture.cmake).
function(orderflow_test)
  cmake_parse_arguments(ARG "NO_CTEST" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS;ENVIRONMENT" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${ARG_NAME} ${ARG_SOURCES})
  set_target_properties(${ARG_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest orderflow::gtest_main)
  orderflow_apply_defaults(${ARG_NAME})
  if(ARG_NO_CTEST)
    return()
  endif()
  add_test(NAME ${ARG_NAME} COMMAND ${ARG_NAME})
  # SKIP_RETURN_CODE 77: what orderflow::gtest_main returns when tests were skipped (GTEST_SKIP) and none
  # failed, so CTest lists the run as skipped instead of passed.
  set_tests_properties(${ARG_NAME} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT} SKIP_RETURN_CODE 77
    ENVIRONMENT "ORDERFLOW_BIN_DIR=${CMAKE_BINARY_DIR}/bin;ORDERFLOW_SOURCE_DIR=${CMAKE_SOURCE_DIR};${ARG_ENVIRONMENT}")
  # `make test` runs CTest with -j2: fault tests measure windows around kills and injected errors and
  # run alone, so another test's load cannot widen them.
  if("fault" IN_LIST ARG_LABELS)
    set_tests_properties(${ARG_NAME} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
