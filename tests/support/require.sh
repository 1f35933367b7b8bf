# Sourced by the shell tests (check-deploy.sh, scripts/fuzz.sh): what to do when something the project
# installs (scripts/build-packages.txt, `make deps`) is missing — the shell side of require.h.
#
#   unavailable REASON...   prints "SKIP: REASON" and returns 0 (the caller skips: exit 77, CTest
#                           SKIP_RETURN_CODE), or under ORDERFLOW_REQUIRE_ALL=1 (.ci/run) prints
#                           "FAIL (ORDERFLOW_REQUIRE_ALL=1, a skip is a failure): REASON" and returns 1.
ORDERFLOW_SKIP_CODE=77
unavailable() {
  if [[ ${ORDERFLOW_REQUIRE_ALL:-0} == 1 ]]; then
    echo "FAIL (ORDERFLOW_REQUIRE_ALL=1, a skip is a failure): $*"
    return 1
  fi
  echo "SKIP: $*"
  return 0
}
