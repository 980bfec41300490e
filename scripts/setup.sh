#!/usr/bin/env bash
# Everything a fresh machine needs before the demo or the tests, idempotent and quick when already done:
# Debian packages (redis, JDK, Maven), npm packages, the official Kafka jars for the lab's versions.
# Runs automatically before `npm test` and `npm run demo` (npm's pre-scripts).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

bash scripts/install-deps.sh

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The lab's default Kafka version and the Fabric-era one the tests also bring up.
for v in ${FABRIC_OPSBOT_KAFKA_VERSIONS:-3.9.2 1.0.2}; do
  bash scripts/fetch-kafka.sh "$v" >/dev/null
done
# Fabric's orderer, configtxgen and cryptogen (2.5.9, the newest with the Kafka consenter) for the lab's real
# orderers: built with the machine's Go through the module proxy, cached in .lab/fabric-2.5.9/bin.
if command -v go >/dev/null 2>&1; then
  bash scripts/build-fabric.sh >/dev/null
else
  echo "setup: no Go on this machine: the lab runs without Fabric orderers (their tests skip, saying why)" >&2
fi
echo "setup: ready"
