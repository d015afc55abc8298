# Stand-in for the official nats image (see deploy/standin/README.md): Debian's nats-server (the
# release the tests run against) with the official image's layout: /usr/local/bin/nats-server,
# /etc/nats/nats-server.conf, ports 4222/6222/8222, and wget for health checks as on Alpine.
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends nats-server wget ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/sbin/nats-server /usr/local/bin/nats-server \
 && mkdir -p /etc/nats && printf 'port: 4222\nmonitor_port: 8222\n' > /etc/nats/nats-server.conf
LABEL org.sipvm.standin="Debian's nats-server in place of the official nats image"
EXPOSE 4222 6222 8222
CMD ["nats-server", "--config", "/etc/nats/nats-server.conf"]
