#!/usr/bin/env bash
# Start a Docker-Engine-API-compatible engine (podman 4.x, API v1.41) on a unix socket, with no registry.
# Usage: scripts/podman-up.sh [BASE]   (default: .podman in the repository)
# Idempotent: a service already answering on BASE's socket is left running. Prints DOCKER_HOST=unix://...
# Installs podman, runc and busybox-static with apt when missing. Stop it with scripts/podman-down.sh [BASE].
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE=${1:-$REPO/.podman}
mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd) # absolute: teardown finds this BASE's conmon processes by path
export DEBIAN_FRONTEND=noninteractive
SOCK="$BASE/podman.sock"

ping_sock() { curl -sf --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

# 1. packages (runc: crun refuses this host's hybrid cgroup v1/v2 layout)
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || [ ! -x /bin/busybox ] || ! command -v curl >/dev/null; then
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends podman runc busybox-static curl >/dev/null
fi

export CONTAINERS_CONF="$BASE/containers.conf" CONTAINERS_STORAGE_CONF="$BASE/storage.conf"

# Already running for this BASE?
if [ -f "$BASE/service.pid" ] && kill -0 "$(cat "$BASE/service.pid")" 2>/dev/null && ping_sock; then
  echo "DOCKER_HOST=unix://$SOCK (pid $(cat "$BASE/service.pid"), already running)"
  exit 0
fi

mkdir -p "$BASE"/{root,run,tmp}

# 2. config: everything under $BASE, runc, cgroupfs, no network, ulimits within our hard limits
#    (no CAP_SYS_RESOURCE here: default_ulimits above the hard nofile limit fail; podman caps nproc at 32768)
NOFILE=$(ulimit -Hn)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
cat >"$BASE/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$BASE/root"
runroot = "$BASE/run"
CONF
cat >"$BASE/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=4096:4096"]
netns = "none"
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$BASE/tmp"
volume_path = "$BASE/root/volumes"
CONF

# 3. a tiny image without any registry: busybox-static rootfs -> podman import
if ! podman image exists localhost/busybox-local:latest; then
  R="$BASE/rootfs"
  rm -rf "$R"
  mkdir -p "$R"/{bin,etc,tmp,proc,sys,dev,root,data}
  cp /bin/busybox "$R/bin/busybox"
  for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -sf busybox "$R/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
  echo 'root:x:0:' >"$R/etc/group"
  echo 'hello from container' >"$R/data/hello.txt"
  tar -C "$R" -cf "$BASE/rootfs.tar" .
  podman import -q --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' "$BASE/rootfs.tar" \
    localhost/busybox-local:latest >/dev/null
  rm -rf "$R" "$BASE/rootfs.tar"
fi

# 4. the API service (Docker Engine API v1.41 + libpod API) on a unix socket
if [ -f "$BASE/service.pid" ]; then
  kill "$(cat "$BASE/service.pid")" 2>/dev/null || true # a stale service of this BASE that stopped answering
  rm -f "$BASE/service.pid"
fi
rm -f "$SOCK"
setsid podman system service --time=0 "unix://$SOCK" >"$BASE/service.log" 2>&1 </dev/null &
echo $! >"$BASE/service.pid"
for _ in $(seq 1 100); do
  ping_sock && break
  sleep 0.1
done
if ! ping_sock; then
  echo "podman service did not answer on $SOCK within 10 s; see $BASE/service.log" >&2
  exit 1
fi
echo "DOCKER_HOST=unix://$SOCK (pid $(cat "$BASE/service.pid"))"
