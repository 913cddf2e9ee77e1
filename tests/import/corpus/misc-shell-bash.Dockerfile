FROM ubuntu:22.04 AS tools
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN mkdir -p /out && echo "built" | tee /out/stamp
RUN --network=none --mount=type=tmpfs,target=/tmp,size=1048576 \
    cp /out/stamp /tmp/ && test -f /tmp/stamp

FROM ubuntu:22.04
# comments and blank continuation lines are skipped
RUN apt-get update && \
    # install curl only
    apt-get install -y curl && \

    rm -rf /var/lib/apt/lists/*
COPY --from=tools /out/stamp /etc/stamp
ENV A=1 \
    B="two words" \
    C='${NOT_EXPANDED}'
WORKDIR /srv/$A
STOPSIGNAL SIGQUIT
HEALTHCHECK NONE
CMD ["cat", "/etc/stamp"]
