#!/bin/bash
# Starts rtpengine in userspace from environment variables (the image's ENV lists the defaults):
#   RTP_INTERFACE             rtpengine's --interface: the address RTP is received on, or
#                             LOCAL!ADVERTISED behind NAT (e.g. 10.0.0.5!203.0.113.7)
#   RTP_PORT_MIN, RTP_PORT_MAX the RTP port range: 4 ports per call
#   RTPENGINE_NG              ng control (UDP), used by services/media (its RTPENGINE_NG)
#   RTPENGINE_CLI             rtpengine-ctl's TCP port, used by the health check and the drain
#   RTPENGINE_DTMF_LOG_DEST   where DTMF reports go (media's MEDIA_DTMF_LISTEN)
#   RTPENGINE_RECORDING_DIR   pcaps for media (its RTPENGINE_RECORDING_DIR, a shared folder)
#   RTPENGINE_LOG_LEVEL       syslog level, 5 (notice) by default; 7 for debug
#   RTPENGINE_LOG_LEVEL_CORE  level of rtpengine's core subsystem: 4 (warning) unless
#                             RTPENGINE_LOG_LEVEL is above 5 (then the same). At notice it logs two
#                             lines per call, "Creating new call" and "Turning on call recording",
#                             that the services' own call lines already say; every line costs the
#                             log collector a wake-up (npm start's relay: about 0.25 ms of CPU each
#                             on a 2-core VM, BENCHMARKS.md)
#   RTPENGINE_THREADS         packet threads (--num-threads); default half the cores, at least one
#   RTPENGINE_MEDIA_THREADS   playback threads (--media-num-threads); default 1
#   TIMER_SLACK_NS            how late the kernel may wake rtpengine from a timed sleep; default
#                             2000000 (2 ms), 0 for the kernel's 50 µs
# Threads, measured on a 2-core box under 40 deposits a second (BENCHMARKS.md): rtpengine's
# default (a packet thread per core, and as many playback and send-timer threads, which share one
# timer queue and wake each other for every packet of every prompt) cost 0.0101 CPU s per call;
# one playback thread 0.0084; one packet thread as well 0.0079. The services beside it need the
# other cores; a media node of its own may give rtpengine more packet threads.
# Timer slack: rtpengine's send timer sleeps until the next packet of any call is due. At 40
# deposits a second (320 calls sending 16,000 packets a second) it woke 4,900 times a second;
# with 2 ms of slack the kernel wakes it once for the packets due within 2 ms, 1,400 times
# (jitter a phone's buffer absorbs; RTP timestamps unchanged). rtpengine's CPU per call fell
# 0.0112 -> 0.0094, nats-server's (same setting) 0.0056 -> 0.0041 (BENCHMARKS.md, "Timer slack").
# Extra arguments are passed to rtpengine.
set -euo pipefail
# Four sockets and a pcap per call: use the whole file-descriptor allowance the container was given.
ulimit -n "$(ulimit -Hn)"
# No core dumps: rtpengine 10.5 can crash on SIGTERM with recordings open; the pcaps written so far
# stay for media, a core file would only fill the disk.
ulimit -c 0
# Timer slack (TIMER_SLACK_NS): the shell's own, which needs no privilege and exec keeps.
slack="${TIMER_SLACK_NS:-2000000}"
[[ "$slack" =~ ^[0-9]{1,10}$ ]] || { echo "rtpengine-entrypoint: TIMER_SLACK_NS must be a whole number of nanoseconds, not '$slack'" >&2; exit 64; }
{ echo "$slack" > /proc/self/timerslack_ns; } 2>/dev/null || echo "rtpengine-entrypoint: /proc/self/timerslack_ns is not writable; the kernel's timer slack stays" >&2
syslog_level() {
  [[ "$2" =~ ^[0-7]$ ]] || { echo "rtpengine-entrypoint: $1 must be a syslog level from 0 to 7, not '$2'" >&2; exit 64; }
}
log_level="${RTPENGINE_LOG_LEVEL:-5}"
syslog_level RTPENGINE_LOG_LEVEL "$log_level"
core_level="${RTPENGINE_LOG_LEVEL_CORE:-$(( log_level > 5 ? log_level : 4 ))}"
syslog_level RTPENGINE_LOG_LEVEL_CORE "$core_level"
exec rtpengine --config-file=none --foreground --log-stderr --pidfile=none --table=-1 \
  --interface="$RTP_INTERFACE" --port-min="$RTP_PORT_MIN" --port-max="$RTP_PORT_MAX" \
  --listen-ng="$RTPENGINE_NG" --listen-cli="$RTPENGINE_CLI" --dtmf-log-dest="$RTPENGINE_DTMF_LOG_DEST" \
  --recording-dir="$RTPENGINE_RECORDING_DIR" --recording-method=pcap --recording-format=raw \
  --num-threads="${RTPENGINE_THREADS:-$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))}" \
  --media-num-threads="${RTPENGINE_MEDIA_THREADS:-1}" \
  --delete-delay=0 --log-level="$log_level" --log-level-core="$core_level" "$@"
