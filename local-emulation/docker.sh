#!/usr/bin/env bash
# Docker engine for SAM CLI's local emulation: install if missing, start with a pidfile, stop by that pid.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
state="${BIKECAST_STATE_DIR:-$here/../.local}"
mkdir -p "$state"
pidfile="$state/dockerd.pid"

install() {
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1; then
    echo "[docker] installing docker.io and debootstrap from Debian packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
  fi
}

up() {
  install
  if docker info >/dev/null 2>&1; then
    echo "[docker] engine already answering"
    return 0
  fi
  echo "[docker] starting dockerd (log: $state/dockerd.log)"
  # --iptables=false leaves the host firewall alone; the default bridge is still needed by SAM.
  nohup dockerd --pidfile "$pidfile" --iptables=false >"$state/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && { echo "[docker] ready (pid $(cat "$pidfile"))"; return 0; }
    sleep 0.5
  done
  echo "[docker] dockerd did not come up; see $state/dockerd.log" >&2
  return 1
}

down() {
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      echo "[docker] stopping dockerd (pid $pid)"
      kill -TERM "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$pidfile"
  fi
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  install) install ;;
  *) echo "usage: $0 up|down|install" >&2; exit 2 ;;
esac
