#!/usr/bin/env bash
# count-skipped.sh CTEST_OUTPUT — the last line of `make test`: `skipped: N`, the tests CTest lists as
# "(Skipped)" under "The following tests did not run:" (SKIP_RETURN_CODE 77: a missing tool, no real
# broker, a variant that does not apply). Exit 1 when ORDERFLOW_REQUIRE_ALL=1 (.ci/run) and N > 0, so a
# green CI run has run every test; exit 0 otherwise (ctest's own status is the caller's).
set -euo pipefail
log=${1:?usage: count-skipped.sh CTEST_OUTPUT}
names=$(sed -n '/^The following tests did not run:/,/^$/p' "$log" | sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (Skipped)$/\1/p')
n=0
[[ -z $names ]] || n=$(wc -l <<<"$names")
echo "skipped: $n${names:+ ($(tr '\n' ' ' <<<"$names" | sed 's/ $//'))}"
if ((n > 0)) && [[ ${ORDERFLOW_REQUIRE_ALL:-0} == 1 ]]; then
  echo "FAIL: ORDERFLOW_REQUIRE_ALL=1 and $n test(s) skipped"
  exit 1
fi
