#!/usr/bin/env bash
# Bring up a Docker engine and the deepthinker-nb kernel image. Idempotent: safe on every CI run.
#  1. `docker info` answers -> nothing to start.
#  2. else install docker.io / mmdebstrap when missing (Debian/Ubuntu, as root), start dockerd in
#     the background (overlay2, falling back to vfs), wait until it answers (60 s).
#  3. `deepthinker-nb image build`: skipped when the recipe-hash tag exists, else built from a
#     registry base or, with no registry, from Debian bookworm via mmdebstrap (~1-2 min).
set -euo pipefail
cd "$(dirname "$0")/.."
LOG_DIR="${DOCKERD_LOG_DIR:-/var/log}"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3

log() { echo "docker-up: $*" >&2; }

engine_up() { docker info >/dev/null 2>&1; }

install_missing() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
    if [ "${#missing[@]}" -gt 0 ]; then
        if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
            log "missing ${missing[*]} and cannot apt-get install them (need root on Debian)"
            exit 1
        fi
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" ca-certificates >/dev/null
    fi
}

start_dockerd() {
    local driver="$1" logfile="$LOG_DIR/dockerd-$1.log"
    log "starting dockerd (storage driver $driver, log $logfile)"
    mkdir -p "$LOG_DIR"
    nohup dockerd --storage-driver "$driver" >"$logfile" 2>&1 &
    local pid=$! waited=0
    while [ "$waited" -lt 60 ]; do
        if engine_up; then log "engine up after ${waited}s"; return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            log "dockerd ($driver) exited: $(tail -n 3 "$logfile" | tr '\n' ' ')"
            return 1
        fi
        sleep 1; waited=$((waited + 1))
    done
    log "dockerd ($driver) did not answer within 60 s"; kill "$pid" 2>/dev/null || true
    return 1
}

if engine_up; then
    log "engine already answers"
else
    install_missing
    # A stale pid file from a killed daemon blocks a new one.
    if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
        rm -f /var/run/docker.pid
    fi
    start_dockerd overlay2 || start_dockerd vfs || { log "no Docker engine could be started"; exit 1; }
fi

start=$(date +%s)
"$PY" -c 'import sys; from deepthinker_nb.cli import main; sys.exit(main(["image", "build"]))'
log "kernel image ready in $(( $(date +%s) - start ))s"
