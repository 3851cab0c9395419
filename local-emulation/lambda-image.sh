#!/usr/bin/env bash
# The Lambda base image that `sam local` expects for runtime python3.13: the official one when it can be pulled,
# else built offline. Debian trixie ships Python 3.13 and glibc 2.41 (>= Amazon Linux 2023's 2.34, so the same
# manylinux_2_28 wheels load); the AWS runtime interface client (awslambdaric) comes from PyPI. SAM adds its own RIE
# on top. Local emulation is x86_64 only: SAM CLI runs the function on this machine's architecture.
set -euo pipefail
image="${LAMBDA_BASE_IMAGE:-public.ecr.aws/lambda/python:3.13-x86_64}"
here=$(cd "$(dirname "$0")" && pwd)
state="${BIKECAST_STATE_DIR:-$here/../.local}"
mkdir -p "$state"

# Bump when this recipe changes, so an older local build is replaced. 3: /var/runtime ships bytecode.
recipe=3
if docker image inspect "$image" >/dev/null 2>&1; then
  built=$(docker image inspect -f '{{ with .Config.Labels }}{{ index . "bikecast.recipe" }}{{ end }}' "$image")
  # No label at all: the official image, pulled on a machine with a registry.
  if [ -z "$built" ] || [ "$built" -ge "$recipe" ]; then
    echo "[image] $image already present${built:+ (offline build, recipe $built)}"
    exit 0
  fi
fi
# The official image first. Where no registry answers, the pull fails within seconds; the timeout bounds a hang.
if timeout "${BIKECAST_PULL_TIMEOUT:-120}" docker pull "$image" >"$state/pull.log" 2>&1; then
  echo "[image] pulled $image"
  exit 0
fi
echo "[image] could not pull $image ($(tail -1 "$state/pull.log")); building it offline"

mirror="${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}"
mirror="${mirror:-http://deb.debian.org/debian}"
rootfs="$state/lambda-rootfs"
rm -rf "$rootfs"
mkdir -p "$rootfs"
echo "[image] debootstrap trixie (python3.13) from $mirror — about a minute"
debootstrap --variant=minbase --include=python3,ca-certificates trixie "$rootfs" "$mirror" >"$state/debootstrap.log" 2>&1 \
  || { echo "[image] debootstrap failed; see $state/debootstrap.log" >&2; exit 1; }

# The real runtime ships boto3 in /var/runtime; so does this one.
echo "[image] installing awslambdaric and boto3 into /var/runtime"
mkdir -p "$rootfs/var/runtime" "$rootfs/var/task" "$rootfs/opt"
python3.13 -m pip install --quiet --no-compile --target "$rootfs/var/runtime" \
  --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --implementation cp --python-version 3.13 \
  --only-binary=:all: -r "$here/requirements-runtime.txt" boto3
# Bytecode for the runtime and boto3, compiled once here by the image's own python3.13: without it every cold start
# compiles botocore and boto3 again (measured: ~1 s of each in-container cold start). unchecked-hash: the files are
# used as they are, whatever tar and docker do to mtimes.
chroot "$rootfs" /usr/bin/python3 -m compileall -q -j 0 --invalidation-mode unchecked-hash /var/runtime >/dev/null
cat >"$rootfs/var/runtime/bootstrap" <<'BOOT'
#!/bin/sh
export PYTHONPATH=/var/task:/opt/python:/var/runtime${PYTHONPATH:+:$PYTHONPATH}
exec /usr/bin/python3 -m awslambdaric "${_HANDLER:-$AWS_LAMBDA_FUNCTION_HANDLER}"
BOOT
chmod +x "$rootfs/var/runtime/bootstrap"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

echo "[image] importing as $image"
tar -C "$rootfs" -c . | docker import \
  --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
  --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
  --change 'WORKDIR /var/task' \
  --change 'ENTRYPOINT ["/var/runtime/bootstrap"]' \
  --change "LABEL bikecast.recipe=$recipe" - "$image" >/dev/null
rm -rf "$rootfs"
echo "[image] built $image"
