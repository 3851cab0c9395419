#!/usr/bin/env bash
# moto_server as the S3 endpoint for local runs: started with a pidfile, stopped by that pid.
# It listens on all interfaces so Lambda containers reach it through the Docker bridge (host.docker.internal).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
state="${BIKECAST_STATE_DIR:-$repo/.local}"
port="${MOTO_PORT:-5555}"
pidfile="$state/moto.pid"
mkdir -p "$state"

up() {
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "[moto] already running (pid $(cat "$pidfile"), port $port)"
    return 0
  fi
  "$repo/.venv/bin/moto_server" -H 0.0.0.0 -p "$port" >"$state/moto.log" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 1 50); do
    if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then
      echo "[moto] S3 endpoint http://127.0.0.1:$port (pid $(cat "$pidfile"))"
      return 0
    fi
    sleep 0.2
  done
  echo "[moto] moto_server did not start; see $state/moto.log" >&2
  return 1
}

down() {
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile")
    kill -0 "$pid" 2>/dev/null && { echo "[moto] stopping (pid $pid)"; kill -TERM "$pid"; }
    rm -f "$pidfile"
  fi
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
