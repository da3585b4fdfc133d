#!/bin/sh
# Build a minimal Debian bookworm root filesystem (python3 3.11 from Debian) as a tarball,
# for machines where no container registry is reachable. Only Debian's apt mirror is needed.
#   usage: rootfs.sh OUTPUT.tar [MIRROR]
# The tarball is imported with `docker import` as the base of kernels/docker/Dockerfile.
set -eu
out="$1"
mirror="${2:-http://deb.debian.org/debian}"
exec mmdebstrap \
    --variant=minbase \
    --include=python3,python3-venv,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-include=/usr/share/locale/locale.alias' \
    --aptopt='Acquire::Languages "none"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log' \
    bookworm "$out" "$mirror"
