#!/usr/bin/env bash
# Installs what the local lab needs (idempotent, non-interactive):
#   - redis-server (+ redis-cli) from Debian
#   - a JDK (17) and Maven, used to fetch and run the official Kafka/ZooKeeper jars (scripts/fetch-kafka.sh)
# Safe to run repeatedly: packages already present are skipped without touching apt.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need+=(maven)
# A Docker-compatible engine for the container tests (shared/notes/docker-api.md): podman with runc, and
# busybox-static for a local image (no registry here); curl pings its API socket.
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v curl >/dev/null 2>&1 || need+=(curl)

if [ "${#need[@]}" -eq 0 ]; then
  echo "install-deps: nothing to install (redis-server, redis-cli, java, mvn, podman, runc, busybox, curl present)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=300 -y -q)
echo "install-deps: installing ${need[*]}"
$SUDO "${APT[@]}" update
$SUDO "${APT[@]}" install --no-install-recommends "${need[@]}"

# Debian's package starts a system redis on 6379 (when an init system runs); the lab never uses it.
# Leave it alone: the lab runs its own redis-server on its own port (default 16379) with its own data dir.
