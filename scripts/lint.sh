#!/usr/bin/env bash
# The project's format and lint gates; `make lint` runs both, `make test` runs them as the CTest tests
# format_check and tidy_check (label lint).
#   scripts/lint.sh [--format] [--tidy] [--fast] [BUILD_DIR]
#     --format  clang-format --dry-run --Werror over every tracked C++ source and header (tests included);
#               `make format` rewrites them
#     --tidy    clang-tidy (.clang-tidy's checks) over the .cpp files of libs/, services/ and tools/, using
#               BUILD_DIR/compile_commands.json (default build), two files at a time
#     --fast    with --tidy: without the clang-analyzer-* checks (about a third of the time; make test uses it)
#     neither --format nor --tidy: both
# Exit 0 clean; 1 findings (listed); 2 usage; a missing clang-format / clang-tidy / compile database is an
# error, not a skip: the tools come from scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
do_format=0 do_tidy=0 fast=0 build_dir=build
for arg in "$@"; do
  case $arg in
    --format) do_format=1 ;;
    --tidy) do_tidy=1 ;;
    --fast) fast=1 ;;
    -h | --help) sed -n '2,12s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "lint: unknown option $arg" >&2; exit 2 ;;
    *) build_dir=$arg ;;
  esac
done
if [[ $do_format == 0 && $do_tidy == 0 ]]; then do_format=1 do_tidy=1; fi
rc=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if [[ $do_format == 1 ]]; then
  command -v clang-format >/dev/null || { echo "lint: clang-format not installed (scripts/install-deps.sh)" >&2; exit 1; }
  mapfile -t files < <(git ls-files '*.cpp' '*.h')
  echo "lint: clang-format --dry-run on ${#files[@]} files"
  if ! clang-format --dry-run --Werror "${files[@]}" 2>"$log"; then
    echo "lint: formatting differs in $(grep -cE '(warning|error):' "$log") places (run 'make format'):"
    grep -E '(warning|error):' "$log" | cut -d: -f1 | sort | uniq -c | sort -rn | head -20
    rc=1
  else
    echo "lint: clang-format clean"
  fi
fi

if [[ $do_tidy == 1 ]]; then
  command -v clang-tidy >/dev/null || { echo "lint: clang-tidy not installed (scripts/install-deps.sh)" >&2; exit 1; }
  [[ -f $build_dir/compile_commands.json ]] ||
    { echo "lint: $build_dir/compile_commands.json missing: configure first (make configure)" >&2; exit 1; }
  mapfile -t sources < <(git ls-files 'libs/*.cpp' 'services/*.cpp' 'tools/*.cpp')
  # --extra-arg=-Werror: clang's own warnings (which GCC may not give, e.g. GNU extensions inside
  # librdkafka's macros) fail the gate whether or not the build tree was configured with WERROR.
  # -Wreserved-identifier: the compiler's check of the rule bugprone-reserved-identifier checks (names with
  # "__", "_X", global "_x"), for our declarations only; that check also walks every declaration and use
  # in the system headers, whose findings are discarded: a sixth of the checks' time (.clang-tidy).
  checks=(--extra-arg=-Werror --extra-arg=-Wreserved-identifier)
  [[ $fast == 1 ]] && checks+=(--checks=-clang-analyzer-*)
  echo "lint: clang-tidy${checks:+ ${checks[*]}} on ${#sources[@]} sources"
  printf '%s\n' "${sources[@]}" |
    xargs -P 2 -n 1 clang-tidy -p "$build_dir" --quiet "${checks[@]}" >"$log" 2>/dev/null || true
  if grep -E 'warning:|error:' "$log"; then
    echo "lint: clang-tidy found $(grep -cE 'warning:|error:' "$log") problem(s)"
    rc=1
  else
    echo "lint: clang-tidy clean"
  fi
fi
exit $rc
