#!/usr/bin/env bash
# Installs what the platform and its tests need on Debian 12 with Node.js 20, when missing:
# Debian packages (nats-server, rtpengine, sipp, sox, espeak-ng, ffmpeg, pocketsphinx; docker-compose and
# kubectl only to validate the deployment files) and the npm dependencies. Cheap when everything is there already, so `npm start` and `npm test` call it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package → a file it installs, to tell whether it is there.
packages=(
  "nats-server:/usr/sbin/nats-server"
  "rtpengine-daemon:/usr/bin/rtpengine"
  "sip-tester:/usr/bin/sipp"
  "sox:/usr/bin/sox"
  "espeak-ng:/usr/bin/espeak-ng"
  "ffmpeg:/usr/bin/ffmpeg"
  # The offline transcription engine and its English model (voicemail's transcriber).
  "pocketsphinx:/usr/bin/pocketsphinx_batch"
  "pocketsphinx-en-us:/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
  # A CA of its own for the NATS TLS test.
  "openssl:/usr/bin/openssl"
  "docker-compose:/usr/bin/docker-compose"
  "kubernetes-client:/usr/bin/kubectl"
  # Headless Chromium: the web inbox's browser tests (driven by playwright-core).
  "chromium:/usr/bin/chromium"
  # Ceph's RADOS Gateway: the real S3 the storage tests check signatures and conditional writes against.
  "radosgw:/usr/bin/radosgw"
  "ceph-mon:/usr/bin/ceph-mon"
  "ceph-osd:/usr/bin/ceph-osd"
  # Kamailio: the SIP proxy of the cluster test (deploy/kamailio/); its dispatcher is in the main package.
  "kamailio:/usr/sbin/kamailio"
  # Its TLS module: SIP over TLS between the proxy and the nodes.
  "kamailio-tls-modules:/usr/lib/x86_64-linux-gnu/kamailio/modules/tls.so"
  # baresip, a real softphone (headless, its core modules only): the tests that call through Kamailio with it.
  "baresip-core:/usr/bin/baresip"
  # Prometheus and promtool: the alert rules' unit tests (deploy/monitoring/) and `npm run monitoring`.
  "prometheus:/usr/bin/promtool"
)
missing=()
for entry in "${packages[@]}"; do
  [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # No recommends: rtpengine's kernel module (DKMS) is not used; it runs in userspace.
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package starts its own Kamailio on 5060 with Debian's example configuration where systemd
  # runs; the tests start theirs. Only when this script installed it.
  if [[ " ${missing[*]} " == *" kamailio "* ]] && command -v systemctl >/dev/null && systemctl is-active --quiet kamailio 2>/dev/null; then
    $sudo systemctl disable --now kamailio >/dev/null 2>&1 || true
  fi
  # Likewise Prometheus on 9090 (and its node exporter): the tests and `npm run monitoring` start theirs.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
    for unit in prometheus prometheus-node-exporter; do
      systemctl is-active --quiet "$unit" 2>/dev/null && $sudo systemctl disable --now "$unit" >/dev/null 2>&1 || true
    done
  fi
fi

# npm dependencies: a clean install when the lock file changed since the last one.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund
fi
