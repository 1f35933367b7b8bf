#!/usr/bin/env bash
# chdb-venv.sh BUILD_DIR — the Python venv of clickhouse_versions_test: BUILD_DIR/chdb-venv with the pinned
# packages of requirements-chdb.txt (chdb-core: ClickHouse 26.9 in process). Idempotent and cached: a venv
# whose stamp names the requirements file's checksum and the interpreter (path and version) is kept as it
# is (no download); otherwise it is built anew (Debian's /usr/bin/python3 -m venv, which needs
# python3-venv: scripts/build-packages.txt) and the stamp written last, so an interrupted install is redone.
# Prints "chdb-venv: ready PATH (…)" and exits 0, or prints why not and exits 1. CTest runs it as the setup
# of clickhouse_versions_test (clickhouse_chdb_venv), so the download's time is reported apart.
set -uo pipefail
build=${1:?usage: chdb-venv.sh BUILD_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
req=$here/requirements-chdb.txt
venv=$(mkdir -p "$build" && cd "$build" && pwd)/chdb-venv
stamp=$venv/.requirements.sha256
# Debian's python3 (with python3-venv) when there is one, whatever else PATH puts first (pyenv, …).
py=/usr/bin/python3
[[ -x $py ]] || py=$(command -v python3) || { echo "chdb-venv: no python3"; exit 1; }
want="$(sha256sum "$req" | cut -d' ' -f1) $py $("$py" -c 'import sys; print(sys.version.split()[0])')"
if [[ -f $stamp && $(<"$stamp") == "$want" && -x $venv/bin/python ]]; then
  echo "chdb-venv: ready $venv (cached)"
  exit 0
fi
start=$SECONDS
rm -rf "$venv"
if ! out=$("$py" -m venv "$venv" 2>&1); then
  echo "chdb-venv: python3 -m venv failed (python3-venv, scripts/install-deps.sh installs it): ${out##*$'\n'}"
  rm -rf "$venv"
  exit 1
fi
if ! out=$(PIP_DISABLE_PIP_VERSION_CHECK=1 timeout 600 "$venv/bin/pip" install --no-input -q --retries 2 -r "$req" 2>&1); then
  why=$(grep '^ERROR' <<<"$out" | tail -n 2)
  echo "chdb-venv: pip install -r $req failed: ${why:-$(tail -n 3 <<<"$out")}"
  rm -rf "$venv"
  exit 1
fi
if ! ver=$("$venv/bin/python" -c 'import chdb; print(chdb.query("SELECT version()", "TSV").bytes().decode().strip())' 2>&1); then
  echo "chdb-venv: chdb installed but does not run: $(tail -n 3 <<<"$ver")"
  rm -rf "$venv"
  exit 1
fi
echo "$want" >"$stamp"
echo "chdb-venv: ready $venv (installed in $((SECONDS - start)) s, ClickHouse $ver)"
