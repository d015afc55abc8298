#!/bin/bash
# Healthy when rtpengine answers on its CLI port (RTPENGINE_CLI): prints its session count.
exec 3<>"/dev/tcp/${RTPENGINE_CLI%:*}/${RTPENGINE_CLI##*:}" || exit 1
printf 'list numsessions\n' >&3
timeout 2 cat <&3 | grep -q 'sessions'
