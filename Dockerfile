# cronbox: scheduled, watchable etcd and Elasticsearch/OpenSearch backups to S3.
# The whole filesystem is assembled by `make rootfs` (busybox-static, one
# static multicall binary for every tool, the scripts, a CA bundle); `make
# image` builds this file from it.
FROM scratch
ARG VERSION=dev
LABEL org.opencontainers.image.title="cronbox" \
      org.opencontainers.image.description="Scheduled etcd and Elasticsearch/OpenSearch backups to S3 on busybox, with the last run's state on :18080" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="scratch"
COPY build/rootfs /
# GOCRON_STATUS_FILE: go-cron records the status address it bound there, so
# the HEALTHCHECK follows -p and GOCRON_STATUS_ADDR (see below).
ENV PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin \
    GOCRON_STATUS_FILE=/tmp/go-cron.status
# cronbox (10001:10001) from /etc/passwd; numeric, so runAsNonRoot can check it.
USER 10001:10001
WORKDIR /tmp
EXPOSE 18080
# /healthz answers while go-cron is alive; `/` (200/503 on the last run) is for
# alerting. A HEALTHCHECK gets the container's environment but not PID 1's
# arguments, so `go-cron --healthcheck` asks /healthz at the address go-cron
# recorded in GOCRON_STATUS_FILE (a moved or random port), else at
# GOCRON_STATUS_ADDR (:18080), and passes when the status port is off. It has
# its own 4 s deadline; the engine's --timeout bounds it too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/go-cron", "--healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/entrypoint"]
