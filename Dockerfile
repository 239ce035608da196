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
ENV PATH=/usr/local/bin:/bin:/sbin:/usr/bin:/usr/sbin
# cronbox (10001:10001) from /etc/passwd; numeric, so runAsNonRoot can check it.
USER 10001:10001
WORKDIR /tmp
EXPOSE 18080
# /healthz answers while go-cron is alive; `/` (200/503 on the last run) is for
# alerting. No wget -T: busybox 1.35 (Debian) wget segfaults with it; Docker's
# --timeout bounds the check instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:18080/healthz"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/entrypoint"]
