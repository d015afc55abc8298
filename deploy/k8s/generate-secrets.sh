#!/usr/bin/env bash
# Writes the env files kustomization.yaml's secretGenerator reads, once (existing files are kept):
#   secrets/drachtio.env        DRACHTIO_SECRET, random (signaling ↔ drachtio-server)
#   secrets/storage-s3.env      AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for S3 (fill in, or keep
#                               empty and give the storage pods an identity: IRSA, workload identity)
#   secrets/voicemail-smtp.env  SMTP_USER / SMTP_PASSWORD for the relay (fill in, or keep empty)
#   secrets/web.env             WEB_OPERATOR_KEY and WEB_TOKEN_SECRET, random (the web service's
#                               operator key — what issues mailbox tokens — and token signing secret)
#   secrets/nats/<service>.nk   an nkey per service: its identity on NATS (admin.nk for your own
#                               tools, e.g. `nats --nkey secrets/nats/admin.nk`; no pod gets it)
#   secrets/nats-keys.conf      their public keys, for the NATS servers (not secret)
#   secrets/nats-cluster/       how the NATS servers know each other: routes.conf (the route user,
#                               a random password, and the three routes with it), a CA of the
#                               cluster's own and one certificate for the three servers (openssl)
# The nkeys are made by packages/service/dist/nats-credentials.js: with node from this checkout once
# built (npm ci && npx tsc -b), else with the sipvm/platform image (docker, after build-images.mjs).
# Usage: deploy/k8s/generate-secrets.sh [kustomization folder, default: beside this script]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}/secrets
mkdir -p "$dir" && chmod 700 "$dir"
umask 077
random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
[ -f "$dir/drachtio.env" ] || echo "DRACHTIO_SECRET=$(random)" > "$dir/drachtio.env"
[ -f "$dir/storage-s3.env" ] || printf '# AWS_ACCESS_KEY_ID=\n# AWS_SECRET_ACCESS_KEY=\n' > "$dir/storage-s3.env"
[ -f "$dir/voicemail-smtp.env" ] || printf '# SMTP_USER=\n# SMTP_PASSWORD=\n' > "$dir/voicemail-smtp.env"
[ -f "$dir/web.env" ] || printf 'WEB_OPERATOR_KEY=%s\nWEB_TOKEN_SECRET=%s\n' "$(random)" "$(random)" > "$dir/web.env"
# NATS: existing keys are kept; the public keys are written again from them.
identities=storage,media,signaling,voicemail,voicebox,web,admin
if [ -f "$repo/packages/service/dist/nats-credentials.js" ] && command -v node >/dev/null; then
  node "$repo/packages/service/dist/nats-credentials.js" --config "$dir" --seeds "$dir/nats" --identities "$identities" --no-permissions >/dev/null
else
  mkdir -p "$dir/nats"
  docker run --rm -u "$(id -u):$(id -g)" -v "$dir:/secrets" "${SIPVM_PLATFORM_IMAGE:-sipvm/platform:0.1.0}" \
    node packages/service/dist/nats-credentials.js --config /secrets --seeds /secrets/nats --identities "$identities" --no-permissions >/dev/null
fi
mv "$dir/keys.conf" "$dir/nats-keys.conf"
# NATS routes: TLS both ways with a CA that signs nothing else, and a password (config/nats.conf).
cluster="$dir/nats-cluster"
if [ ! -f "$cluster/routes.conf" ]; then
  mkdir -p "$cluster"
  password=$(random)
  namespace=${SIPVM_NAMESPACE:-sipvm}
  {
    echo "authorization { user: sipvm-route, password: \"$password\", timeout: 3 }"
    echo "routes: ["
    for i in 0 1 2; do echo "  nats://sipvm-route:$password@nats-$i.nats-cluster:6222"; done
    echo "]"
  } > "$cluster/routes.conf"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=sipvm NATS cluster CA" \
    -keyout "$cluster/ca.key" -out "$cluster/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=nats-cluster" \
    -keyout "$cluster/tls.key" -out "$cluster/tls.csr" 2>/dev/null
  printf 'subjectAltName=DNS:*.nats-cluster,DNS:*.nats-cluster.%s.svc,DNS:*.nats-cluster.%s.svc.cluster.local\nextendedKeyUsage=serverAuth,clientAuth\n' "$namespace" "$namespace" > "$cluster/tls.ext"
  openssl x509 -req -in "$cluster/tls.csr" -CA "$cluster/ca.crt" -CAkey "$cluster/ca.key" -CAcreateserial -days 3650 \
    -extfile "$cluster/tls.ext" -out "$cluster/tls.crt" 2>/dev/null
  rm -f "$cluster/tls.csr" "$cluster/tls.ext" "$cluster/ca.srl"
fi
echo "secrets in $dir"
