# Stand-in for the source build stage of deploy/drachtio/Dockerfile (see README.md here): holds a
# drachtio-server binary built elsewhere from the same commit and flags. The real Dockerfile's
# runtime stage copies /usr/local/bin/drachtio from it when built with
#   --build-arg DRACHTIO_BINARY_FROM=sipvm-standin/drachtio-binary
FROM scratch
COPY drachtio /usr/local/bin/drachtio
LABEL org.sipvm.standin="drachtio-server binary built outside this Dockerfile"
