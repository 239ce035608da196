package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

// The shipped deploy files, started by real consumers of their formats:
// deploy/kubernetes/*.yaml with `podman kube play`, deploy/compose.yaml with
// podman-compose (Debian's 1.0.3). A test overlay changes only what must
// differ here, and each change is listed where it is made: the image, the
// endpoints (the test's etcd and versitygw on loopback), the schedule (a
// backup within seconds, not at the hour), the host's network (the servers
// listen on loopback only) and so a status port of the test's choosing.

type doc = map[string]any

func readDocs(t *testing.T, path string) []doc {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.RepoRoot(t), path))
	if err != nil {
		t.Fatal(err)
	}
	var docs []doc
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var d doc
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
	return docs
}

func writeDocs(t *testing.T, path string, docs ...doc) {
	t.Helper()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			t.Fatal(err)
		}
	}
	enc.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// at walks a document: at(d, "spec", "template", "spec") is a map.
func at(t *testing.T, d doc, path ...string) doc {
	t.Helper()
	cur := d
	for _, p := range path {
		next, ok := cur[p].(doc)
		if !ok {
			t.Fatalf("no mapping at %s", strings.Join(path, "."))
		}
		cur = next
	}
	return cur
}

// setEnv overrides container env entries (a list of {name, value}); each
// must exist in the shipped file unless added is true for it.
func setEnv(t *testing.T, container doc, values map[string]string, added ...string) {
	t.Helper()
	env, _ := container["env"].([]any)
	seen := map[string]bool{}
	for _, e := range env {
		m := e.(doc)
		name := m["name"].(string)
		if v, ok := values[name]; ok {
			m["value"] = v
			seen[name] = true
		}
	}
	for _, name := range added {
		env = append(env, doc{"name": name, "value": values[name]})
		seen[name] = true
	}
	for name := range values {
		if !seen[name] {
			t.Fatalf("the shipped file does not set %s; the overlay only changes values", name)
		}
	}
	container["env"] = env
}

// selfBase64 is a credential that podman 4.3's kube play mounts unchanged:
// it writes a Secret's data into the file still base64-encoded (and
// ignores stringData), so the test's keys are strings that are their own
// canonical base64 (letters and digits, a multiple of 4 long).
func selfBase64(prefix string) string {
	s := prefix + strconv.FormatInt(time.Now().UnixNano(), 36)
	for len(s)%4 != 0 {
		s += "x"
	}
	return s
}

// kubeProbe does what the kubelet does for an httpGet probe: GET the path
// on the pod's port from outside the container; 2xx and 3xx pass.
func kubeProbe(url string) error {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}

// deploy/kubernetes/cronbox.yaml (Secret, Deployment, Service) with `podman
// kube play`: the pod starts as the manifest says (uid 10001, read-only
// root, no capabilities, the Secret mounted as files), its probes pass and
// a backup lands, under the etcd lock. Then the CronJob's pod template
// (cronjob.yaml) as a Pod: one --once run lands a backup and exits 0.
//
// Not exercised, because podman kube play (4.3) cannot: the Service (it
// skips the kind), replicas: 2 and the RollingUpdate strategy (it has no
// controller, and two pods on the host's network would share one status
// port; the overlay says 1), the CronJob's schedule (no such kind; its pod
// template runs once), and podman's own rendering of the probes: it turns
// an httpGet probe into `curl` run inside the container (the image has no
// curl) and reads a named port as 0, so the test runs each probe as the
// kubelet does, an HTTP GET from outside on the port the name stands for.
// The overlay also adds `optional: false` to the secret volume (4.3.1
// panics on a secret volume without it) and drops `ports` (refused on the
// host's network).
func TestKubePlay(t *testing.T) {
	t.Parallel()
	p := Engine(t)
	access, secret := selfBase64("cronboxKubeAccess"), selfBase64("cronboxKubeSecret")
	srv := testkit.VersitygwWith(t, testkit.VersitygwOptions{AccessKey: access, SecretKey: secret})
	bucket := srv.Bucket(t, "kube-deployment")
	jobBucket := srv.Bucket(t, "kube-cronjob")
	// Debian's etcd (a process) rather than the embedded one: go-cron's lock
	// speaks etcd's JSON gateway, which in an embedded etcd listening on
	// port 0 dials its advertised address, port 0.
	cl := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 1})
	etcdURL := cl.Members[0].ClientURL
	for i := 0; i < 20; i++ {
		if _, err := cl.Client(t).Put(ctx(t), fmt.Sprintf("/kube/key-%d", i), "value"); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	port := testkit.FreePort(t)

	docs := readDocs(t, "deploy/kubernetes/cronbox.yaml")
	var secretDoc doc
	probes := map[string]string{} // kind -> path
	for _, d := range docs {
		switch d["kind"] {
		case "Secret":
			secretDoc = d
			delete(d, "stringData")
			d["data"] = doc{"access-key-id": access, "secret-access-key": secret}
		case "Deployment":
			spec := at(t, d, "spec")
			spec["replicas"] = 1
			pod := at(t, d, "spec", "template", "spec")
			pod["hostNetwork"] = true
			c := pod["containers"].([]any)[0].(doc)
			c["image"] = p.Image
			// The probes name the port "status": 18080, go-cron's default
			// status port, which the overlay moves to a free one.
			ports := c["ports"].([]any)
			if pt := ports[0].(doc); pt["name"] != "status" || pt["containerPort"] != 18080 {
				t.Fatalf("ports %v: want status on 18080", ports)
			}
			delete(c, "ports")
			for kind, key := range map[string]string{"liveness": "livenessProbe", "readiness": "readinessProbe"} {
				get := at(t, c, key, "httpGet")
				if get["port"] != "status" {
					t.Fatalf("%s probe port %v, want status", kind, get["port"])
				}
				probes[kind] = get["path"].(string)
				get["port"] = port
			}
			setEnv(t, c, map[string]string{
				"GOCRON_SCHEDULE":    "*/2 * * * * *",
				"ETCD_ENDPOINTS":     etcdURL,
				"GOCRON_LOCK_ETCD":   etcdURL,
				"AWS_S3_BUCKET":      bucket,
				"AWS_S3_ENDPOINT":    srv.Endpoint,
				"AWS_S3_REGION":      "us-east-1",
				"GOCRON_STATUS_ADDR": "127.0.0.1:" + strconv.Itoa(port),
			}, "GOCRON_STATUS_ADDR")
			for _, v := range pod["volumes"].([]any) {
				if s, ok := v.(doc)["secret"].(doc); ok {
					s["optional"] = false
				}
			}
		}
	}
	if secretDoc == nil || len(probes) != 2 {
		t.Fatalf("cronbox.yaml: want a Secret and a Deployment with two probes")
	}
	manifest := filepath.Join(dir, "cronbox.yaml")
	writeDocs(t, manifest, docs...)
	t.Cleanup(func() {
		if t.Failed() {
			c := &ImageContainer{p: p, Name: "cronbox-etcd-backup-pod-0-cronbox"}
			ps, _ := p.Run(t, nil, "ps", "-a")
			t.Logf("%s\ndeployment pod logs:\n%s", ps, c.Logs(t))
		}
		p.Run(t, nil, "kube", "down", manifest) //nolint:errcheck
	})
	p.Must(t, "kube", "play", manifest)
	c := &ImageContainer{p: p, Name: "cronbox-etcd-backup-pod-0-cronbox", Status: statusAt(port)}

	key := waitBackup(t, srv, bucket, "etcd-backup/")
	c.WaitStatus(t, http.StatusOK)
	for kind, path := range probes {
		if err := kubeProbe(c.Status + path); err != nil {
			t.Errorf("%s probe GET %s: %v", kind, path, err)
		}
	}
	out, err := c.Exec(t, "sh", "-c", `id -u; grep CapEff /proc/1/status; touch /probe 2>&1 || echo read-only; cat /run/secrets/cronbox-s3/secret-access-key`)
	if err != nil {
		t.Fatalf("podman exec: %v\n%s", err, out)
	}
	for _, want := range []string{"10001\n", "CapEff:\t0000000000000000", "read-only", secret} {
		if !strings.Contains(out, want) {
			t.Errorf("in the pod: want %q in:\n%s", want, out)
		}
	}
	if logs := c.Logs(t); !strings.Contains(logs, "lock") {
		t.Errorf("the pod's go-cron logged nothing about its etcd lock:\n%s", logs)
	}
	t.Logf("Deployment: backup %s, probes %v pass", key, probes)

	// The CronJob's pod template, once, as a Pod.
	cron := readDocs(t, "deploy/kubernetes/cronjob.yaml")[0]
	tmpl := at(t, cron, "spec", "jobTemplate", "spec", "template")
	podSpec := at(t, tmpl, "spec")
	podSpec["hostNetwork"] = true
	jc := podSpec["containers"].([]any)[0].(doc)
	jc["image"] = p.Image
	setEnv(t, jc, map[string]string{
		"ETCD_ENDPOINTS":     etcdURL,
		"AWS_S3_BUCKET":      jobBucket,
		"AWS_S3_ENDPOINT":    srv.Endpoint,
		"AWS_S3_REGION":      "us-east-1",
		"GOCRON_STATUS_ADDR": "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)),
	}, "GOCRON_STATUS_ADDR")
	for _, v := range podSpec["volumes"].([]any) {
		if s, ok := v.(doc)["secret"].(doc); ok {
			s["optional"] = false
		}
	}
	meta := at(t, tmpl, "metadata")
	meta["name"] = "cronbox-etcd-backup-job"
	jobManifest := filepath.Join(dir, "cronjob-pod.yaml")
	writeDocs(t, jobManifest, secretDoc, doc{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": podSpec})
	t.Cleanup(func() { p.Run(t, nil, "kube", "down", jobManifest) }) //nolint:errcheck
	p.Must(t, "kube", "play", jobManifest)
	job := &ImageContainer{p: p, Name: "cronbox-etcd-backup-job-cronbox"}
	testkit.WaitFor(t, 90*time.Second, "the CronJob pod's run to end", func() error {
		if st := job.Inspect(t, "{{.State.Status}}"); st != "exited" {
			return fmt.Errorf("%s: %w", st, testkit.ErrNotYet)
		}
		return nil
	})
	if code := job.Inspect(t, "{{.State.ExitCode}}"); code != "0" {
		t.Errorf("the CronJob pod's container exited %s, want 0:\n%s", code, job.Logs(t))
	}
	t.Logf("CronJob pod: backup %s", waitBackup(t, srv, jobBucket, "etcd-backup/"))
}

// podmanHostNet is what podman-compose runs instead of podman: 1.0.3 puts
// every container on the project's network (`--net NAME --network-alias
// SERVICE`, even with network_mode: host, which podman then refuses), and
// the test's servers listen on loopback only, so `run` gets the host's
// network instead. Everything else passes through unchanged.
const podmanHostNet = `#!/bin/sh
[ "${1:-}" = run ] || exec podman "$@"
shift
skip=false
for a do
	shift
	if $skip; then skip=false; continue; fi
	case "$a" in --net | --network-alias) skip=true; continue ;; esac
	set -- "$@" "$a"
done
exec podman run --network host "$@"
`

// deploy/compose.yaml with podman-compose: both services come up from the
// shipped file, with the S3 keys as the compose secrets it names; the etcd
// service lands a backup and answers 200, both pass the image's
// HEALTHCHECK, and `down` stops them. The overlay drops `ports` (the host's
// network has no mapping) and moves each status port to a free one; the es
// service points at an address where nothing answers, and its hourly
// schedule does not come due in the test (ES snapshots through the image
// are TestESBackup's). Not exercised: stop_grace_period and port mapping
// (podman-compose 1.0.3 ignores the first; `down -t 30` gives the grace).
func TestComposeUp(t *testing.T) {
	t.Parallel()
	p := Engine(t)
	testkit.Need(t, "podman-compose")
	srv := testkit.Versitygw(t)
	bucket := srv.Bucket(t, "compose")
	src := etcdtest.Embed(t, etcdtest.Options{})
	putKeys(t, src, "/compose/", 20)
	dir := t.TempDir()
	ports := map[string]int{"etcd-backup": testkit.FreePort(t), "es-backup": testkit.FreePort(t)}

	cf := readDocs(t, "deploy/compose.yaml")[0]
	services := at(t, cf, "services")
	for name, port := range ports {
		s := at(t, services, name)
		s["image"] = p.Image
		delete(s, "ports")
		env := at(t, s, "environment")
		set := map[string]string{"GOCRON_STATUS_ADDR": "127.0.0.1:" + strconv.Itoa(port)}
		if name == "etcd-backup" {
			set["GOCRON_SCHEDULE"] = "*/2 * * * * *"
			set["ETCD_ENDPOINTS"] = src.Endpoint
			set["AWS_S3_BUCKET"] = bucket
			set["AWS_S3_ENDPOINT"] = srv.Endpoint
			set["AWS_S3_REGION"] = "us-east-1"
		} else {
			set["ES_HOST_URL"] = "http://127.0.0.1:9"
		}
		for k, v := range set {
			if _, ok := env[k]; !ok && k != "GOCRON_STATUS_ADDR" {
				t.Fatalf("compose.yaml: %s does not set %s", name, k)
			}
			env[k] = v
		}
	}
	for name, value := range map[string]string{"aws_access_key_id": srv.AccessKey, "aws_secret_access_key": srv.SecretKey} {
		file := at(t, cf, "secrets", name)["file"].(string)
		f := filepath.Join(dir, file)
		if err := os.WriteFile(f, []byte(value+"\n"), 0o400); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(f, 10001, 10001); err != nil {
			t.Fatal(err)
		}
	}
	compose := filepath.Join(dir, "compose.yaml")
	writeDocs(t, compose, cf)
	wrapper := filepath.Join(dir, "podman-hostnet")
	if err := os.WriteFile(wrapper, []byte(podmanHostNet), 0o755); err != nil {
		t.Fatal(err)
	}
	project := fmt.Sprintf("cbcompose%d", time.Now().UnixNano()%1e6)
	podmanCompose := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "podman-compose", append([]string{"--podman-path", wrapper, "-f", compose, "-p", project}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), p.Env...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { podmanCompose("down", "-t", "0") }) //nolint:errcheck
	if out, err := podmanCompose("up", "-d"); err != nil {
		t.Fatalf("podman-compose up: %v\n%s", err, out)
	}
	ctrs := map[string]*ImageContainer{}
	for name, port := range ports {
		ctrs[name] = &ImageContainer{p: p, Name: project + "_" + name + "_1", Status: statusAt(port)}
	}
	etcdC := ctrs["etcd-backup"]
	key := waitBackup(t, srv, bucket, "etcd-backup/")
	etcdC.WaitStatus(t, http.StatusOK)
	for name, c := range ctrs {
		waitHTTP(t, c.Status+"/healthz")
		t.Logf("%s: HEALTHCHECK: %s", name, c.WaitHealthy(t))
	}
	t.Logf("etcd-backup service: backup %s", key)
	if out, err := podmanCompose("down", "-t", "30"); err != nil {
		t.Fatalf("podman-compose down: %v\n%s", err, out)
	}
	if out, err := p.Run(t, nil, "ps", "-a", "--filter", "label=io.podman.compose.project="+project, "--format", "{{.Names}}"); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("containers left after down: %q (%v)", out, err)
	}
}
