#!/usr/bin/env bash
# clickhouse_versions_test.sh SOURCE_DIR BUILD_DIR [--install-only] — the analytics SQL on ClickHouse 18.16
# (Debian 12's clickhouse-server, through tools/clickhouse-local over HTTP) and on ClickHouse 26.9 (chdb-core, in
# process, from BUILD_DIR/chdb-venv: chdb-venv.sh): clickhouse_versions_test.py. Without the server binary,
# or when the venv cannot be installed, it exits 77 (CTest SKIP_RETURN_CODE) with the reason, or fails
# under ORDERFLOW_REQUIRE_ALL=1. --install-only: just the venv (CTest's fixture clickhouse_chdb_venv, so the
# download is timed apart from the test; a second run finds it cached).
set -uo pipefail
src=$(cd "${1:?usage: clickhouse_versions_test.sh SOURCE_DIR BUILD_DIR}" && pwd)
build=${2:?usage: clickhouse_versions_test.sh SOURCE_DIR BUILD_DIR}
install_only=0
[[ ${3:-} == --install-only ]] && install_only=1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../support/require.sh
. "$src/tests/support/require.sh"

# The same places clickhouse-local.sh looks in.
if ((!install_only)) && [[ -z ${CLICKHOUSE_SERVER:-} ]] && ! command -v clickhouse-server >/dev/null 2>&1 &&
  [[ ! -x /usr/sbin/clickhouse-server && ! -x /usr/bin/clickhouse-server ]] && ! command -v clickhouse >/dev/null 2>&1; then
  unavailable "no ClickHouse server binary (scripts/install-deps.sh installs clickhouse-server)" || exit 1
  exit $ORDERFLOW_SKIP_CODE
fi
# Normally already done by the CTest fixture clickhouse_chdb_venv; then this is a cache hit.
if ! out=$(bash "$here/chdb-venv.sh" "$build"); then
  unavailable "ClickHouse 26.9 (chdb) not installable: $out" || exit 1
  exit $ORDERFLOW_SKIP_CODE
fi
echo "$out"
((install_only)) && exit 0
exec "$build/chdb-venv/bin/python" "$here/clickhouse_versions_test.py" "$src"
