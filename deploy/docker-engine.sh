#!/usr/bin/env bash
# A Docker engine for `npm run test:compose`.
#   deploy/docker-engine.sh start   installs Debian's docker.io when dockerd is missing and starts
#                                   dockerd when none answers (then it records that it did)
#   deploy/docker-engine.sh stop    stops the dockerd that `start` started, and only that one
set -euo pipefail
state=${SIPVM_DOCKERD_STATE:-/run/sipvm-dockerd}
case ${1:-} in
  start)
    if docker info >/dev/null 2>&1; then echo "docker: engine already running"; exit 0; fi
    if ! command -v dockerd >/dev/null; then
      echo "docker: installing Debian's docker.io" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io >/dev/null
    fi
    mkdir -p "$state"
    setsid dockerd >"$state/dockerd.log" 2>&1 < /dev/null &
    echo $! > "$state/dockerd.pid"
    for _ in $(seq 60); do
      if docker info >/dev/null 2>&1; then echo "docker: started dockerd (pid $(cat "$state/dockerd.pid"))"; exit 0; fi
      sleep 1
    done
    echo "docker: dockerd did not start; its log:" >&2; tail -20 "$state/dockerd.log" >&2; exit 1
    ;;
  stop)
    [ -f "$state/dockerd.pid" ] || exit 0
    pid=$(cat "$state/dockerd.pid")
    rm -f "$state/dockerd.pid"
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || { echo "docker: stopped dockerd"; exit 0; }; sleep 1; done
      echo "docker: dockerd (pid $pid) still running after 30 s" >&2
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 64 ;;
esac
