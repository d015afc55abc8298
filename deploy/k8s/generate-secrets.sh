#!/usr/bin/env bash
# Writes the env files kustomization.yaml's secretGenerator reads, once (existing files are kept):
#   secrets/drachtio.env        DRACHTIO_SECRET, random (signaling ↔ drachtio-server)
#   secrets/storage-s3.env      AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY for S3 (fill in, or keep
#                               empty and give the storage pods an identity: IRSA, workload identity)
#   secrets/voicemail-smtp.env  SMTP_USER / SMTP_PASSWORD for the relay (fill in, or keep empty)
#   secrets/web.env             WEB_OPERATOR_KEY and WEB_TOKEN_SECRET, random (the web service's
#                               operator key — what issues mailbox tokens — and token signing secret)
# Usage: deploy/k8s/generate-secrets.sh [kustomization folder, default: beside this script]
set -euo pipefail
dir=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}/secrets
mkdir -p "$dir" && chmod 700 "$dir"
umask 077
random() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
[ -f "$dir/drachtio.env" ] || echo "DRACHTIO_SECRET=$(random)" > "$dir/drachtio.env"
[ -f "$dir/storage-s3.env" ] || printf '# AWS_ACCESS_KEY_ID=\n# AWS_SECRET_ACCESS_KEY=\n' > "$dir/storage-s3.env"
[ -f "$dir/voicemail-smtp.env" ] || printf '# SMTP_USER=\n# SMTP_PASSWORD=\n' > "$dir/voicemail-smtp.env"
[ -f "$dir/web.env" ] || printf 'WEB_OPERATOR_KEY=%s\nWEB_TOKEN_SECRET=%s\n' "$(random)" "$(random)" > "$dir/web.env"
echo "secrets in $dir"
