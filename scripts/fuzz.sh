#!/usr/bin/env bash
# libFuzzer runs of the event parsers and the header decoders (tests/fuzz/), built with clang++ in their own
# standalone CMake project (tests/fuzz/clang/) — the main build uses g++ and is not touched.
#
#   scripts/fuzz.sh                 every target for FUZZ_SECONDS (default 60) seconds   (make fuzz)
#   scripts/fuzz.sh --smoke         12 s of fuzzing in total (CTest: fuzz_smoke, label unit)
#   options: --build-dir DIR (default build/fuzz), --seconds N (per target), --target NAME (repeatable)
#
# Before fuzzing, every saved regression input (tests/fuzz/regressions/<target>/) is replayed.
# Corpora persist in DIR/corpus/<target>/ (seeded from tests/data/hostile, tests/data/schema_cases and the
# regressions); a crash or broken property leaves DIR/artifacts/<target>-crash-… and exits 1: minimise it
# (`DIR/fuzz_<target> -minimize_crash=1 -runs=10000 FILE`), copy it to tests/fuzz/regressions/<target>/
# (fuzz_regression_test replays it with g++ on every `make test-unit`), and fix the bug.
# Exit 77 (CTest SKIP_RETURN_CODE) with the reason when clang++ or its libFuzzer runtime is missing, exit 1
# instead under ORDERFLOW_REQUIRE_ALL=1 (.ci/run): both come from scripts/build-packages.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tests/support/require.sh
. "$ROOT/tests/support/require.sh"
BUILD_DIR="$ROOT/build/fuzz"
SMOKE=0
SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --build-dir) BUILD_DIR="$2"; shift ;;
    --seconds) SECONDS_EACH="$2"; shift ;;
    --target) TARGETS+=("$2"); shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(events_parse headers)
if [ "$SMOKE" = 1 ]; then
  # 12 s of fuzzing in total, whatever FUZZ_SECONDS says (build time comes on top; ccache makes it short):
  # a smoke run inside `make test`, which must stay under 15 minutes on 2 cores. `make fuzz` fuzzes longer.
  SECONDS_EACH=$(( 12 / ${#TARGETS[@]} ))
fi
if ! [[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || [ "$SECONDS_EACH" -lt 1 ]; then
  echo "fuzz.sh: --seconds / FUZZ_SECONDS must be a positive integer, got '$SECONDS_EACH'" >&2
  exit 2
fi

CXX="${FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || true)}"
if [ -z "$CXX" ]; then
  unavailable "clang++ not found (libFuzzer needs clang; apt-get install clang libclang-rt-14-dev)" || exit 1
  exit $ORDERFLOW_SKIP_CODE
fi
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' > "$probe_dir/p.cpp"
if ! "$CXX" -fsanitize=fuzzer,address,undefined "$probe_dir/p.cpp" -o "$probe_dir/p" 2> "$probe_dir/err"; then
  head -3 "$probe_dir/err"
  unavailable "$CXX cannot link -fsanitize=fuzzer,address,undefined (is libclang-rt-14-dev installed?)" || exit 1
  exit $ORDERFLOW_SKIP_CODE
fi

echo "== building the fuzz targets with $CXX in $BUILD_DIR"
launcher=()
command -v ccache > /dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S "$ROOT/tests/fuzz/clang" -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_CXX_COMPILER="$CXX" "${launcher[@]}" > /dev/null
fi
cmake --build "$BUILD_DIR" -j "${FUZZ_JOBS:-2}" > "$BUILD_DIR/build.log" 2>&1 || { cat "$BUILD_DIR/build.log"; exit 1; }

# Seeds: the hostile corpus, each document of the schema agreement table, the saved regressions.
SEEDS="$BUILD_DIR/seeds"
rm -rf "$SEEDS"
mkdir -p "$SEEDS/events_parse" "$SEEDS/headers" "$BUILD_DIR/artifacts"
find "$ROOT/tests/data/hostile" -maxdepth 1 -type f ! -name '*.md' ! -name '*.tsv' -exec cp {} "$SEEDS/events_parse/" \;
if command -v python3 > /dev/null; then
  python3 - "$ROOT/tests/data/schema_cases" "$SEEDS/events_parse" <<'PY'
import json, pathlib, sys
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for table in sorted(src.glob("*.json")):
    for i, case in enumerate(json.loads(table.read_text())):
        if "doc" in case:
            (dst / f"{table.stem}-{i:03d}").write_text(json.dumps(case["doc"], ensure_ascii=False, separators=(",", ":")))
PY
fi
# headers: two bytes of bounded_message limit, then the header value.
i=0
for v in "" "0" "-0" "42" "-9223372036854775808" "9223372036854775807" "9223372036854775808" "+1" " 1" "1 " "0x10" \
         "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" "00-00000000000000000000000000000000-00f067aa0ba902b7-01" \
         "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
         "x-attempt=1"$'\n'"traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
         "items[0].quantity: must be between 1 and 1000, got 0" "ééééééééé…" ; do
  printf '\x00\x10%s' "$v" > "$SEEDS/headers/seed-$i"
  i=$((i + 1))
done

status=0
for t in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/fuzz_$t"
  if [ ! -x "$bin" ]; then echo "fuzz.sh: no target '$t' (events_parse, headers)" >&2; exit 2; fi
  regressions=("$ROOT/tests/fuzz/regressions/$t"/*)
  if [ -e "${regressions[0]}" ]; then
    echo "== $t: replaying ${#regressions[@]} regression input(s)"
    "$bin" -runs=1 "${regressions[@]}" > "$BUILD_DIR/replay-$t.log" 2>&1 || {
      cat "$BUILD_DIR/replay-$t.log"; echo "FAIL: $t: a saved regression input fails again"; status=1; continue; }
    cp "${regressions[@]}" "$SEEDS/$t/"
  fi
  corpus="$BUILD_DIR/corpus/$t"
  mkdir -p "$corpus"
  dict=()
  [ "$t" = events_parse ] && dict=(-dict="$ROOT/tests/fuzz/json.dict")
  echo "== $t: fuzzing for ${SECONDS_EACH} s (corpus $corpus)"
  if "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=16384 "${dict[@]}" \
       -artifact_prefix="$BUILD_DIR/artifacts/$t-" -print_final_stats=1 "$corpus" "$SEEDS/$t" \
       > "$BUILD_DIR/fuzz-$t.log" 2>&1; then
    grep -a -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$BUILD_DIR/fuzz-$t.log" | tr '\n' ' '; echo
  else
    tail -60 "$BUILD_DIR/fuzz-$t.log"
    echo "FAIL: $t found a crash or a broken property; input saved as:"
    ls -t "$BUILD_DIR/artifacts/$t-"* 2> /dev/null | head -3
    status=1
  fi
done
exit $status
