#!/usr/bin/env bash
# fetch-jars.sh DEST — puts the runtime jars of the pinned Apache Kafka (broker + CLI tools + Log4j 2 binding)
# into DEST/lib, plus our small CreateTopics helper. Maven's local repo (~/.m2) caches the downloads.
#
# Quiet and fast when DEST/lib already holds the jars for the pinned version (stamp file).
# Never fails `make test` because the network is missing: when Maven Central cannot be reached (or java/mvn
# are not installed) it prints one warning line and exits 0; the real-Kafka tests then skip themselves.
# Exits non-zero only for a real defect (pom/KAFKA_VERSION mismatch, a Maven error that is not a network one).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/pom.xml

if [[ $# -ne 1 || $1 == -h || $1 == --help ]]; then
  echo "usage: $(basename "$0") DEST   (jars go to DEST/lib)" >&2
  [[ $# -eq 1 ]] && exit 0 || exit 2
fi
dest=$(realpath -m "$1")
lib=$dest/lib

version=$(tr -d '[:space:]' <"$here/KAFKA_VERSION")
if ! grep -q "<kafka.version>${version}</kafka.version>" "$pom"; then
  echo "kafka-local: KAFKA_VERSION says ${version} but pom.xml's <kafka.version> differs; make them equal" >&2
  exit 1
fi

# Mock-only runs do not need the jars at all.
[[ ${ORDERFLOW_TEST_BROKER:-} == mock ]] && exit 0

warn_skip() {
  echo "kafka-local: WARNING: $1 -> real-Kafka tests (label kafka) will be skipped;" \
    "for a mock-only run use: ORDERFLOW_TEST_BROKER=mock make test" >&2
  exit 0
}

hash_of() { sha256sum "$@" | cut -c1-16 | tr '\n' ' '; }
want_stamp="kafka=${version} inputs=$(hash_of "$pom" "$here/src/CreateTopics.java")"
[[ -f $lib/.stamp && $(<"$lib/.stamp") == "$want_stamp" ]] && exit 0

command -v java >/dev/null 2>&1 || warn_skip "java is not installed (apt-get install openjdk-17-jre-headless)"
command -v mvn >/dev/null 2>&1 || warn_skip "mvn is not installed (apt-get install maven)"

mkdir -p "$dest"
# Two fetches at once (make test and a ctest run) must not interleave in DEST.
exec 9>"$dest/.fetch.lock"
flock 9
[[ -f $lib/.stamp && $(<"$lib/.stamp") == "$want_stamp" ]] && exit 0

tmp=$(mktemp -d "$dest/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log=$tmp/mvn.log

started=$SECONDS
rc=0
# Full plugin coordinates (version from the pom): a bare `dependency:` prefix needs Central's plugin index.
timeout 900 mvn -B -q -Dstyle.color=never -f "$pom" -Dkafka.version="$version" \
  org.apache.maven.plugins:maven-dependency-plugin:copy-dependencies -DoutputDirectory="$tmp/lib" \
  >"$log" 2>&1 || rc=$?
if [[ $rc -ne 0 ]]; then
  network='Could not transfer|offline mode|UnknownHost|Unknown host|Network is unreachable|Connection refused'
  network+='|Connection timed out|connect timed out|Read timed out|No route to host|Name or service not known'
  network+='|Temporary failure in name resolution|Connection reset|PKIX path|No plugin found for prefix'
  if [[ $rc -eq 124 ]]; then
    warn_skip "Maven timed out fetching Kafka ${version} jars"
  elif grep -qE "$network" "$log"; then
    warn_skip "cannot reach Maven Central to fetch Kafka ${version} jars ($(grep -m1 -oE "$network" "$log" | head -n1))"
  fi
  echo "kafka-local: mvn failed (exit ${rc}) fetching Kafka ${version}; its output:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
if ! compgen -G "$tmp/lib/kafka_2.13-${version}.jar" >/dev/null; then
  echo "kafka-local: mvn succeeded but kafka_2.13-${version}.jar is missing from its output" >&2
  exit 1
fi

# The helper creates all topics in one JVM; without a JDK compiler kafka-local.sh falls back to TopicCommand.
if command -v javac >/dev/null 2>&1 && command -v jar >/dev/null 2>&1; then
  mkdir -p "$tmp/classes"
  javac -nowarn --release 17 -d "$tmp/classes" -cp "$tmp/lib/*" "$here/src/CreateTopics.java"
  jar --create --file "$tmp/lib/orderflow-kafka-local.jar" -C "$tmp/classes" .
fi

echo "$want_stamp" >"$tmp/lib/.stamp"
rm -rf "$lib"
mv "$tmp/lib" "$lib"
echo "kafka-local: fetched Apache Kafka ${version} jars ($(du -sm "$lib" | cut -f1) MB) into ${lib}" \
  "in $((SECONDS - started)) s" >&2
