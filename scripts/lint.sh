#!/usr/bin/env bash
# The project's format and lint gates; `make lint` runs both, `make test` runs them as the CTest tests
# format_check and tidy_check (label lint).
#   scripts/lint.sh [--format] [--tidy] [--fast] [BUILD_DIR]
#     --format  clang-format --dry-run --Werror over every tracked C++ source and header (tests included);
#               `make format` rewrites them
#     --tidy    clang-tidy (.clang-tidy's checks) over the .cpp files of libs/, services/ and tools/, using
#               BUILD_DIR/compile_commands.json (default build), two files at a time; a source whose
#               analysis input is unchanged since a clean run is not analysed again (BUILD_DIR/tidy-cache)
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
  # A clean verdict is kept per source under a key of all that clang-tidy's verdict depends on: its
  # version, the .clang-tidy files, these arguments, the compile command and the source as clang
  # preprocesses it with that command, and every file that reads as it is on disk (comments too: a NOLINT
  # is one). A source whose key has a clean verdict is not analysed again; findings are never kept.
  # Without clang++ nothing is kept.
  LINT_CONFIG=$({ clang-tidy --version; git ls-files -z '*.clang-tidy' | xargs -0 cat; echo "${checks[*]}"; } |
    sha256sum | cut -c1-64)
  LINT_KEY_PY='
import hashlib, json, os, shlex, subprocess, sys
config, db, src = sys.argv[1:4]
for e in json.load(open(db)):
    if e["file"] == src:
        break
else:
    sys.exit(1)
flags, skip = [], False
for a in shlex.split(e["command"])[1:]:
    if skip:
        skip = False
    elif a == "-o":
        skip = True
    elif a not in ("-c", src):
        flags.append(a)
pre = subprocess.run(["clang++", *flags, "-E", src], cwd=e["directory"], capture_output=True)
if pre.returncode != 0:
    sys.exit(1)
h = hashlib.sha256((config + "\0" + e["command"] + "\0").encode())
h.update(pre.stdout)
# and every file it read, as it is: comments and directives too (a NOLINT is a comment)
read = set()
for line in pre.stdout.splitlines():
    if line.startswith(b"# ") and line.count(b"\x22") >= 2:  # a line marker: # N "file" flags
        read.add(line.split(b"\x22")[1])
for path in sorted(read):
    if path.startswith(b"<"):
        continue
    with open(os.path.join(e["directory"].encode(), path), "rb") as f:
        h.update(path + b"\0" + hashlib.sha256(f.read()).digest())
print(h.hexdigest())'
  export LINT_BUILD=$build_dir LINT_CACHE=$build_dir/tidy-cache LINT_CHECKS="${checks[*]}" LINT_CONFIG LINT_KEY_PY
  mkdir -p "$LINT_CACHE"
  find "$LINT_CACHE" -type f -mtime +30 -delete # verdicts of sources long gone
  tidy_one() { # tidy_one SOURCE: its findings on stdout; "cached" on stderr when a clean verdict is kept
    local src=$1 key="" out status=0 checks
    if command -v clang++ >/dev/null; then
      key=$(python3 -c "$LINT_KEY_PY" "$LINT_CONFIG" "$LINT_BUILD/compile_commands.json" "$(realpath "$src")") ||
        key=""
    fi
    if [[ -n $key && -f $LINT_CACHE/$key ]]; then
      touch "$LINT_CACHE/$key"
      echo cached >&2
      return 0
    fi
    read -r -a checks <<<"$LINT_CHECKS"
    out=$(clang-tidy -p "$LINT_BUILD" --quiet "${checks[@]}" "$src" 2>/dev/null) || status=$?
    [[ -n $out ]] && printf '%s\n' "$out"
    # Kept only when clang-tidy ran to the end (exit 0) and found nothing.
    if [[ -n $key && $status == 0 ]] && ! grep -qE 'warning:|error:' <<<"$out"; then touch "$LINT_CACHE/$key"; fi
    return 0
  }
  export -f tidy_one
  cached=$(mktemp)
  printf '%s\n' "${sources[@]}" | xargs -P 2 -I{} bash -c 'tidy_one "$1"' _ {} >"$log" 2>"$cached" || true
  echo "lint: $(grep -c '^cached$' "$cached" || true) of ${#sources[@]} sources unchanged since a clean run (not analysed again)"
  rm -f "$cached"
  if grep -E 'warning:|error:' "$log"; then
    echo "lint: clang-tidy found $(grep -cE 'warning:|error:' "$log") problem(s)"
    rc=1
  else
    echo "lint: clang-tidy clean"
  fi
fi
exit $rc
