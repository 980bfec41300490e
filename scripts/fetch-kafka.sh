#!/usr/bin/env bash
# Fetch the official Apache Kafka jars (broker, tools, the ZooKeeper they depend on, a log4j binding) for one
# Kafka version from Maven Central into the lab's jar cache, with Maven and lab/pom.xml.
#
#   scripts/fetch-kafka.sh VERSION [SCALA_BINARY_VERSION]
#
# Output folder: ${FABRIC_OPSBOT_LAB_CACHE:-<repo>/.lab}/jars/kafka-VERSION (kafka-VERSION-scalaS when a Scala
# version other than the default is asked for). Prints that folder's path as the last line of stdout.
# Idempotent: a folder that is complete (has .complete) is left alone. The copy goes to a temporary folder
# that is renamed into place, so an interrupted run never leaves a half-filled cache behind.
# Default Scala version: 2.11 for Kafka 0.x/1.x (what Fabric's images ship), 2.12 for 2.0-2.3, 2.13 after.
set -euo pipefail

if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: $0 KAFKA_VERSION [SCALA_BINARY_VERSION]" >&2
  exit 64
fi
version="$1"
case "$version" in
  *[!0-9A-Za-z.-]*) echo "fetch-kafka: bad version '$version'" >&2; exit 64 ;;
esac
major="${version%%.*}"
rest="${version#*.}"
minor="${rest%%.*}"
if [ "$major" -lt 2 ]; then default_scala=2.11
elif [ "$major" -eq 2 ] && [ "$minor" -lt 4 ]; then default_scala=2.12
else default_scala=2.13
fi
scala="${2:-$default_scala}"

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FABRIC_OPSBOT_LAB_CACHE:-$repo/.lab}"
name="kafka-$version"
if [ "$scala" != "$default_scala" ]; then name="kafka-$version-scala$scala"; fi
out="$cache/jars/$name"

# The cache is valid for this pom only: a changed lab/pom.xml (another logging jar, ...) refetches.
pom_sha="$(sha256sum "$repo/lab/pom.xml" | cut -d' ' -f1)"
if [ -f "$out/.complete" ] && grep -qx "pom=$pom_sha" "$out/.complete"; then
  echo "$out"
  exit 0
fi

# True when a running process has this folder on its class path: its jars must not change under it (the JVM
# opens class-path jars lazily, so a replaced or removed jar breaks a running broker).
in_use() {
  local f
  for f in /proc/[0-9]*/cmdline; do
    if tr '\0' ' ' < "$f" 2>/dev/null | grep -qF -- "$out/"; then return 0; fi
  done
  return 1
}
if [ -f "$out/.complete" ] && in_use; then
  echo "fetch-kafka: $out is from an older lab/pom.xml but running processes use it: keeping it for now" >&2
  echo "$out"
  exit 0
fi

command -v mvn >/dev/null 2>&1 || { echo "fetch-kafka: mvn not found (run scripts/install-deps.sh)" >&2; exit 69; }
mkdir -p "$cache/jars"
tmp="$(mktemp -d "$cache/jars/.tmp-$name-XXXXXX")"
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-kafka: Kafka $version (Scala $scala) from Maven Central into $out" >&2
# Maven writes its errors to stdout: keep its output and show it only when it fails.
if ! mvn_out="$(mvn -q -B -Dstyle.color=never -f "$repo/lab/pom.xml" dependency:copy-dependencies \
  -Dkafka.version="$version" -Dscala.binary.version="$scala" -DoutputDirectory="$tmp" 2>&1)"; then
  printf '%s\n' "$mvn_out" | sed 's/\x1b\[[0-9;]*m//g' >&2
  echo "fetch-kafka: Maven failed for Kafka $version (Scala $scala)" >&2
  exit 1
fi

ls "$tmp"/kafka_"$scala"-"$version".jar >/dev/null 2>&1 || { echo "fetch-kafka: kafka_$scala-$version.jar missing after Maven" >&2; exit 1; }
printf 'kafka=%s\nscala=%s\npom=%s\nfetched=%s\n' "$version" "$scala" "$pom_sha" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  > "$tmp/.complete"

if [ -e "$out" ]; then
  # Another run finished first, or a stale folder (older pom) that nothing uses: keep the former, replace the
  # latter.
  if [ -f "$out/.complete" ] && grep -qx "pom=$pom_sha" "$out/.complete"; then echo "$out"; exit 0; fi
  if in_use; then echo "$out"; exit 0; fi
  old="$(mktemp -d "$cache/jars/.old-$name-XXXXXX")"
  mv "$out" "$old/" && rm -rf "$old"
fi
mv "$tmp" "$out"
trap - EXIT
echo "$out"
