#!/bin/bash
# preStop: rtpengine outlives the calls it carries. Waits until it holds no session and the media
# service beside it has stopped (nothing answers on MEDIA_HEALTH_PORT any more), at most
# DRAIN_SECONDS; Kubernetes then sends SIGTERM.
set -u
deadline=$(( SECONDS + ${DRAIN_SECONDS:-170} ))
sessions() {
  exec 3<>"/dev/tcp/${RTPENGINE_CLI%:*}/${RTPENGINE_CLI##*:}" || { echo 0; return; }
  printf 'list numsessions\n' >&3
  timeout 2 cat <&3 | sed -n 's/^Current sessions own: *\([0-9]*\).*/\1/p'
  exec 3<&-
}
media_up() {
  [ -n "${MEDIA_HEALTH_PORT:-}" ] && (exec 3<>"/dev/tcp/127.0.0.1/$MEDIA_HEALTH_PORT") 2>/dev/null
}
while (( SECONDS < deadline )); do
  n=$(sessions)
  if [ "${n:-0}" -eq 0 ] && ! media_up; then exit 0; fi
  sleep 2
done
