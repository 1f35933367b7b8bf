#!/usr/bin/env bash
# `make lint`: clang-format check (no rewrite; `make format` rewrites) and clang-tidy over the project's
# own sources, using BUILD_DIR/compile_commands.json. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
mapfile -t files < <(git ls-files 'libs/*.cpp' 'libs/*.h' 'services/*.cpp' 'services/*.h' 'tools/*.cpp' 'tools/*.h')
rc=0
if command -v clang-format >/dev/null; then
  echo "lint: clang-format --dry-run on ${#files[@]} files"
  clang-format --dry-run --Werror "${files[@]}" 2>/tmp/orderflow-format.log || {
    echo "lint: formatting differs in $(grep -c 'warning:' /tmp/orderflow-format.log) places (run 'make format'):"
    grep 'warning:' /tmp/orderflow-format.log | cut -d: -f1 | sort | uniq -c | sort -rn | head -20
    rc=1
  }
else
  echo "lint: clang-format not installed, skipped"
fi
if command -v clang-tidy >/dev/null && [ -f "$BUILD_DIR/compile_commands.json" ]; then
  mapfile -t sources < <(printf '%s\n' "${files[@]}" | grep '\.cpp$')
  echo "lint: clang-tidy on ${#sources[@]} sources"
  if ! clang-tidy -p "$BUILD_DIR" --quiet "${sources[@]}" 2>/dev/null | tee /tmp/orderflow-tidy.log | grep -E 'warning:|error:'; then
    echo "lint: clang-tidy clean"
  else
    rc=1
  fi
else
  echo "lint: clang-tidy or $BUILD_DIR/compile_commands.json missing, skipped"
fi
exit $rc
