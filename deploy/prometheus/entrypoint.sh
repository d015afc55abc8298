#!/bin/sh
# Writes Prometheus's configuration from $MONITORING_DIR/prometheus.yml (deploy/monitoring/), its
# ${…} placeholders filled from the environment (the targets compose gives), then runs Prometheus
# with the rules beside it. Extra arguments are passed to prometheus.
set -eu
config=/etc/sipvm-prometheus/prometheus.yml
export RULES_FILE="$MONITORING_DIR/rules.yml"
cp "$MONITORING_DIR/prometheus.yml" "$config"
for name in SCRAPE_INTERVAL RULES_FILE STORAGE_METRICS MEDIA_METRICS VOICEMAIL_METRICS SIGNALING_METRICS VOICEBOX_METRICS WEB_METRICS NATS_EXPORTER; do
  value=$(printenv "$name") || { echo "prometheus-entrypoint: $name must be set" >&2; exit 78; }
  sed -i "s|\${$name}|$value|g" "$config"
done
exec prometheus --config.file="$config" --storage.tsdb.path=/var/lib/sipvm-prometheus --web.listen-address="$PROMETHEUS_LISTEN" "$@"
