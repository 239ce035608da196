// Package e2e runs the assembled image the way users run it: the rootfs
// that `make rootfs` builds, started as a container (its own PID and mount
// namespaces, chroot, the image's non-root user) with the entrypoint execing
// go-cron as PID 1, against real etcd, versitygw and OpenSearch on loopback.
// Everything is asserted through what users see: the status port, the
// objects in the bucket, the exit status. The tests need root (unshare).
package e2e
