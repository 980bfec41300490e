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

if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi

command -v mvn >/dev/null 2>&1 || { echo "fetch-kafka: mvn not found (run scripts/install-deps.sh)" >&2; exit 69; }
mkdir -p "$cache/jars"
tmp="$(mktemp -d "$cache/jars/.tmp-$name-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-kafka: Kafka $version (Scala $scala) from Maven Central into $out" >&2
mvn -q -B -Dstyle.color=never -f "$repo/lab/pom.xml" dependency:copy-dependencies \
  -Dkafka.version="$version" -Dscala.binary.version="$scala" -DoutputDirectory="$tmp" >&2

ls "$tmp"/kafka_"$scala"-"$version".jar >/dev/null 2>&1 || { echo "fetch-kafka: kafka_$scala-$version.jar missing after Maven" >&2; exit 1; }
printf 'kafka=%s\nscala=%s\nfetched=%s\n' "$version" "$scala" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$tmp/.complete"

if [ -e "$out" ]; then
  # Another run finished first (or a stale incomplete folder): replace only if still incomplete.
  if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
  rm -rf "$out"
fi
mv "$tmp" "$out"
trap - EXIT
echo "$out"
