// Package e2e runs the image the way users run it, against real etcd,
// versitygw and OpenSearch on loopback, and asserts only what users see: the
// status port, the objects in the bucket, exit statuses, the engine's
// health verdict.
//
// Two ways of running it: the image itself, built from the Dockerfile by
// podman and started with `podman run`, `podman kube play` (the Kubernetes
// manifests) and podman-compose (the compose file) (engine_test.go,
// image_test.go, deploy_test.go); and the rootfs that `make rootfs` builds,
// started without an engine (its own PID and mount namespaces, chroot as
// the image's user, go-cron as PID 1), which is quick to start and to look
// into from the host (container_test.go and the rest). The tests need root.
package e2e
