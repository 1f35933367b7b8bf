#!/usr/bin/env bash
# install_test.sh SOURCE_DIR BUILD_DIR GENERATOR CXX VERSION
# `cmake --install` of the build tree into a fresh temporary prefix, then checks that the prefix is usable
# on its own: bin/ holds exactly the seven binaries and each prints its --version; lib/ and include/ hold the
# three libraries and their headers and nothing of the tests or benchmarks; and tests/install/consumer, a
# project outside the tree that only knows the prefix, configures with find_package(orderflow), compiles
# every installed header, builds, and parses a valid and an invalid order with the installed
# orderflow::events. The prefix is removed at exit.
set -euo pipefail
src=$1 build=$2 generator=$3 cxx=$4 version=$5

work=$(mktemp -d "${TMPDIR:-/tmp}/orderflow-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
step() { echo "install_test: $*"; }

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1 || { cat "$work/install.log"; fail "cmake --install"; }

listing() { (cd "$prefix/$1" && find . -type f | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'); }
binaries="analytics-service dlq-tool kafka-dev-broker lag-exporter notification-service order-producer payment-service"
[ "$(listing bin)" = "$binaries" ] || fail "bin/ holds '$(listing bin)', expected '$binaries'"
for b in $binaries; do
  out=$("$prefix/bin/$b" --version) || fail "$b --version exited $?"
  [ "$out" = "$b $version" ] || fail "$b --version printed '$out', expected '$b $version'"
done
libs="liborderflow_events.a liborderflow_messaging.a liborderflow_runtime.a"
libdir=
for d in lib lib64; do [ -d "$prefix/$d" ] && libdir=$d; done
[ -n "$libdir" ] || fail "no lib/ in the prefix"
[ "$(cd "$prefix/$libdir" && ls *.a | tr '\n' ' ' | sed 's/ $//')" = "$libs" ] || fail "$libdir/ archives: $(ls "$prefix/$libdir")"
[ "$(ls "$prefix/include/orderflow" | tr '\n' ' ')" = "events messaging runtime version.h " ] \
  || fail "include/orderflow holds: $(ls "$prefix/include/orderflow" | tr '\n' ' ')"
# Tests, benchmarks, test helpers and the services' own libraries stay out.
stray=$(cd "$prefix" && find . \( -iname '*test*' -o -iname '*bench*' -o -iname '*gtest*' -o -name '*_core*' \) -print)
[ -z "$stray" ] || fail "installed but should not be: $stray"

step "configure and build tests/install/consumer against the prefix"
(cd "$prefix/include" && find orderflow -name '*.h' | LC_ALL=C sort | sed 's/.*/#include "&"/') > "$work/all_headers.cpp"
[ "$(wc -l < "$work/all_headers.cpp")" -ge 20 ] || fail "only $(wc -l < "$work/all_headers.cpp") headers installed"
cmake -S "$src/tests/install/consumer" -B "$work/consumer" -G "$generator" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DORDERFLOW_ALL_HEADERS="$work/all_headers.cpp" \
  > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "the consumer project does not configure"; }
grep -q "orderflow_DIR:PATH=$prefix/" "$work/consumer/CMakeCache.txt" \
  || fail "find_package(orderflow) did not use the prefix: $(grep orderflow_DIR "$work/consumer/CMakeCache.txt")"
cmake --build "$work/consumer" > "$work/build.log" 2>&1 || { cat "$work/build.log"; fail "the consumer project does not build"; }

order='{"event_id":"0b7e3a52-6d1f-4c1e-9a3e-2f5d8c9b1a01","event_type":"OrderCreated","schema_version":1,'
order+='"occurred_at":"2026-11-23T12:00:00.123Z","order_id":"order-1","customer_id":"customer-42",'
order+='"items":[{"sku":"SKU-1","quantity":2,"unit_price_cents":500},{"sku":"SKU-2","quantity":1,"unit_price_cents":1500},'
order+='{"sku":"SKU-3","quantity":3,"unit_price_cents":250}],"amount_cents":3250,"currency":"EUR"}'
out=$("$work/consumer/parse-order" "$order") || fail "parse-order rejected a valid order: $out"
expected=$(printf '%s order-1 3250 EUR\t{"tp":55}' "$version")
[ "$out" = "$expected" ] || fail "parse-order printed '$out', expected '$expected'"

rc=0; out=$("$work/consumer/parse-order" "${order/\"quantity\":2/\"quantity\":0}") || rc=$?
[ $rc -eq 1 ] || fail "parse-order exited $rc on an invalid order, expected 1"
[ "$out" = "items[0].quantity: must be between 1 and 1000, got 0" ] || fail "parse-order printed '$out' for an invalid order"
step "ok"
