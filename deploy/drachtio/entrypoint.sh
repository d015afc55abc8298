#!/bin/bash
# Starts drachtio-server from environment variables. The admin secret goes into a config file
# readable by this user only, never onto the command line (where `ps` shows it).
#   SIP_IP, SIP_PORT, SIP_TRANSPORTS   where SIP is received (contact sip:IP:PORT;transport=…)
#   SIP_EXTERNAL_IP                    address written into SIP messages when behind NAT (optional)
#   SIP_TLS_DIR, SIP_TLS_PORT          SIP over TLS too (sips:IP:PORT;transport=tls), when SIP_TLS_DIR
#                                      holds tls.crt, tls.key and ca.crt (a kubernetes.io/tls Secret
#                                      with the CA): the proxy reaches the node there (SECURITY.md)
#   DRACHTIO_ADMIN_ADDRESS/_PORT       where services/signaling connects
#   DRACHTIO_SECRET                    shared secret of that connection (required)
#   DRACHTIO_LOGLEVEL                  notice (default: no SIP messages), warning, error, info or
#                                      debug (info and debug print every SIP message, PINs included)
#   DRACHTIO_SOFIA_LOGLEVEL            0-9, the SIP stack's own log
#   TIMER_SLACK_NS                     how late the kernel may wake it from a timed sleep: 2000000
#                                      (2 ms) by default, 0 for the kernel's 50 µs (deploy/rtpengine/entrypoint.sh says why)
# Extra arguments are passed to drachtio.
set -euo pipefail
: "${DRACHTIO_SECRET:?DRACHTIO_SECRET must be set}"
# Calls hold sockets: use the whole file-descriptor allowance the container was given.
ulimit -n "$(ulimit -Hn)"
ulimit -c 0
config=$(mktemp -d)/drachtio.conf.xml
umask 077
cat > "$config" <<XML
<drachtio>
  <admin port="${DRACHTIO_ADMIN_PORT}" secret="${DRACHTIO_SECRET}">${DRACHTIO_ADMIN_ADDRESS}</admin>
  <sip><contacts></contacts></sip>
  <cdrs>false</cdrs>
  <logging><console/><sofia-loglevel>${DRACHTIO_SOFIA_LOGLEVEL}</sofia-loglevel><loglevel>${DRACHTIO_LOGLEVEL}</loglevel></logging>
</drachtio>
XML
# --disable-nat-detection: NAT is the proxy's business, and drachtio-server at this commit dies
# answering a UDP INVITE whose Contact has no host (`*`, tel:) while NAT detection is on (SECURITY.md).
args=(-f "$config" --contact "sip:${SIP_IP}:${SIP_PORT};transport=${SIP_TRANSPORTS}"
      --address "$DRACHTIO_ADMIN_ADDRESS" --port "$DRACHTIO_ADMIN_PORT"
      --loglevel "$DRACHTIO_LOGLEVEL" --sofia-loglevel "$DRACHTIO_SOFIA_LOGLEVEL"
      --disable-nat-detection)
if [ -n "${SIP_EXTERNAL_IP:-}" ]; then args+=(--external-ip "$SIP_EXTERNAL_IP"); fi
# drachtio-server takes TLS only as a sips: contact.
if [ -n "${SIP_TLS_DIR:-}" ] && [ -f "$SIP_TLS_DIR/tls.crt" ]; then
  args+=(--contact "sips:${SIP_IP}:${SIP_TLS_PORT:-5061};transport=tls"
         --cert-file "$SIP_TLS_DIR/tls.crt" --key-file "$SIP_TLS_DIR/tls.key" --chain-file "$SIP_TLS_DIR/ca.crt")
fi
# Timer slack (TIMER_SLACK_NS): the shell's own, which needs no privilege and exec keeps.
slack="${TIMER_SLACK_NS:-2000000}"
[[ "$slack" =~ ^[0-9]{1,10}$ ]] || { echo "drachtio-entrypoint: TIMER_SLACK_NS must be a whole number of nanoseconds, not '$slack'" >&2; exit 64; }
{ echo "$slack" > /proc/self/timerslack_ns; } 2>/dev/null || echo "drachtio-entrypoint: /proc/self/timerslack_ns is not writable; the kernel's timer slack stays" >&2
unset DRACHTIO_SECRET
exec drachtio "${args[@]}" "$@"
