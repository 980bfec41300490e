#!/usr/bin/env bash
# Stop what podman-up.sh started and delete BASE. Usage: scripts/podman-down.sh [BASE] (default .podman).
# Order matters: containers first (their conmon outlives the service), then the service by its PID, then the
# conmon processes exec sessions leave behind (up to 300 s), then the storage.
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE=${1:-$REPO/.podman}
[ -d "$BASE" ] || exit 0
BASE=$(cd "$BASE" && pwd)
export CONTAINERS_CONF="$BASE/containers.conf" CONTAINERS_STORAGE_CONF="$BASE/storage.conf"
if command -v podman >/dev/null && [ -f "$BASE/containers.conf" ]; then
  podman rm -af -t 0 >/dev/null 2>&1 || true
fi
if [ -f "$BASE/service.pid" ]; then
  PID=$(cat "$BASE/service.pid")
  kill "$PID" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$PID" 2>/dev/null || true
  rm -f "$BASE/service.pid"
fi
# conmon of this BASE only (matched by its storage path), by PID
for p in /proc/[0-9]*; do
  case "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" in
  /usr/bin/conmon*"$BASE/root/"* | /usr/bin/conmon*"$BASE/run/"*) kill "${p#/proc/}" 2>/dev/null || true ;;
  esac
done
if command -v podman >/dev/null && [ -f "$BASE/containers.conf" ]; then
  podman system reset -f >/dev/null 2>&1 || true # unmounts overlay layers, deletes graphroot/runroot
fi
rm -rf "$BASE"
echo "podman at $BASE stopped and removed"
