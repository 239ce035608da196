// Package reliability is cronbox's reliability suite: faults injected
// through a real proxy (package faults) between the real tools and real
// servers (versitygw, etcd, OpenSearch), process kills, a bad-input table
// run against every binary and the image's entrypoint, a secrets canary, a
// soak and a load test of go-cron's status port, and fuzz targets for the
// parsers other packages export. Everything lives in its tests; `make
// reliability` runs the whole suite and prints its summary table, `make
// test` runs the parts that fit in CI's time.
package reliability
