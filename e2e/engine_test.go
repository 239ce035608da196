package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cronbox/testkit"
)

// The image tests build the Dockerfile with a real engine, Debian's podman,
// and run the image the way users do (`podman run`, `podman kube play`,
// podman-compose). The engine gets a store of its own for this test binary
// (under the e2e temp dir, removed at the end), so the tests neither see nor
// touch the machine's images, and its settings are this machine's (FACTS.md):
// vfs storage, runc (crun fails on the hybrid cgroup layout), cgroupfs (no
// systemd), explicit ulimits (podman's defaults need CAP_SYS_RESOURCE, which
// the sandbox lacks). They sit in containers.conf and storage.conf, which
// podman reads from CONTAINERS_CONF and CONTAINERS_STORAGE_CONF, so every
// podman started for a test (by podman-compose too) uses them. The image is
// built once per test binary (`--format docker`, or the OCI format drops
// the HEALTHCHECK) from the rootfs the other e2e tests run.

// Podman is the engine, with the image built.
type Podman struct {
	Dir   string   // its configuration and store
	Env   []string // CONTAINERS_CONF=..., CONTAINERS_STORAGE_CONF=...
	Image string   // the image under test
}

var (
	engineOnce sync.Once
	engine     *Podman
	engineErr  error
)

// imageVersion is stamped into the tools and the image's version label.
const imageVersion = "e2e"

// Engine returns podman with the image built, or fails the test (podman not
// installed fails it too: `make deps` installs it).
func Engine(t *testing.T) *Podman {
	t.Helper()
	testkit.Need(t, "podman")
	rootfs := assembled(t)
	engineOnce.Do(func() {
		engine, engineErr = newPodman(filepath.Join(tempRoot, "podman"), filepath.Dir(filepath.Dir(rootfs)), testkit.RepoRoot(t))
	})
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return engine
}

func newPodman(dir, buildContext, repo string) (*Podman, error) {
	p := &Podman{Dir: dir, Image: "localhost/cronbox:" + imageVersion}
	for _, d := range []string{"root", "run", "tmp", "networks"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	conf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=1000:1000"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = %[1]q
[network]
network_config_dir = %[2]q
`, filepath.Join(dir, "tmp"), filepath.Join(dir, "networks"))
	storage := fmt.Sprintf(`[storage]
driver = "vfs"
graphroot = %q
runroot = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "run"))
	if err := os.WriteFile(filepath.Join(dir, "containers.conf"), []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "storage.conf"), []byte(storage), 0o644); err != nil {
		return nil, err
	}
	p.Env = []string{"CONTAINERS_CONF=" + filepath.Join(dir, "containers.conf"), "CONTAINERS_STORAGE_CONF=" + filepath.Join(dir, "storage.conf")}

	// The build context is the rootfs's parent's parent (it holds
	// build/rootfs) plus the repository's Dockerfile.
	df, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(buildContext, "Dockerfile"), df, 0o644); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	out, err := p.command(ctx, "build", "--format", "docker", "--build-arg", "VERSION="+imageVersion, "-t", p.Image, buildContext).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("podman build: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: podman build %s: %s\n", p.Image, time.Since(start).Round(time.Millisecond))
	return p, nil
}

// closeEngine removes every container and pod and the store (TestMain).
func closeEngine() {
	if engine == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	engine.command(ctx, "pod", "rm", "--all", "--force", "--time", "0").Run() //nolint:errcheck
	engine.command(ctx, "rm", "--all", "--force", "--time", "0").Run()        //nolint:errcheck
	os.RemoveAll(engine.Dir)
}

// command is podman ARGS with the test store's configuration.
func (p *Podman) command(ctx context.Context, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "podman", args...)
	c.Env = append(os.Environ(), p.Env...)
	c.WaitDelay = 5 * time.Second
	return c
}

// engineNoise is what podman prints when it cannot hand a healthcheck timer
// to systemd (there is none here; the tests run the checks themselves).
var engineNoise = regexp.MustCompile(`(?m)^time=".*" level=error msg=".*systemd.*"\n?`)

// Run runs podman ARGS (with env added to its environment, for `-e NAME`
// without a value) and returns its stdout; stderr is in the error.
func (p *Podman) Run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := p.command(ctx, args...)
	c.Env = append(c.Env, env...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if err != nil {
		err = fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, engineNoise.ReplaceAllString(stderr.String(), ""))
	}
	return stdout.String(), err
}

// Must is Run that fails the test on error.
func (p *Podman) Must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := p.Run(t, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ImageContainer is one container of the image under test.
type ImageContainer struct {
	p      *Podman
	Name   string
	Status string // http://127.0.0.1:PORT, when the test knows the status port
}

var nameSeq struct {
	sync.Mutex
	n int
}

// containerName is unique in the store and says which test made it.
func containerName(t *testing.T) string {
	nameSeq.Lock()
	nameSeq.n++
	n := nameSeq.n
	nameSeq.Unlock()
	base := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	return fmt.Sprintf("cb%d-%s", n, strings.Trim(base, "-"))
}

// StartImage runs the image detached on the host's network (the test
// servers listen on loopback only): `podman run -d --network host OPTS
// IMAGE ARGS`. env's values reach the container through podman's own
// environment (`-e NAME`), so no value, no secret, is on a command line.
// The container is removed when the test ends, its logs shown on failure.
func (p *Podman) StartImage(t *testing.T, opts []string, env map[string]string, args ...string) *ImageContainer {
	t.Helper()
	c := &ImageContainer{p: p, Name: containerName(t)}
	argv := []string{"run", "-d", "--name", c.Name, "--network", "host"}
	var penv []string
	for k, v := range env {
		argv = append(argv, "-e", k)
		penv = append(penv, k+"="+v)
	}
	argv = append(append(append(argv, opts...), p.Image), args...)
	if _, err := p.Run(t, penv, argv...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of %s:\n%s", c.Name, c.Logs(t))
		}
		p.Run(t, nil, "rm", "--force", "--time", "0", c.Name) //nolint:errcheck
	})
	return c
}

// Logs is `podman logs` (stdout and stderr).
func (c *ImageContainer) Logs(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, _ := c.p.command(ctx, "logs", c.Name).CombinedOutput()
	return string(out)
}

// Inspect returns `podman inspect --format FORMAT` of the container.
func (c *ImageContainer) Inspect(t *testing.T, format string) string {
	t.Helper()
	return strings.TrimSpace(c.p.Must(t, "inspect", "--format", format, c.Name))
}

// Exec runs a command in the container as its user and returns its
// combined output.
func (c *ImageContainer) Exec(t *testing.T, cmd ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := c.p.command(ctx, append([]string{"exec", c.Name}, cmd...)...).CombinedOutput()
	return string(engineNoise.ReplaceAllString(string(out), "")), err
}

// Health runs the image's HEALTHCHECK through the engine (`podman
// healthcheck run`) and returns whether it passed and what the check
// printed (the last entry of the container's health log).
func (c *ImageContainer) Health(t *testing.T) (bool, string) {
	t.Helper()
	_, err := c.p.Run(t, nil, "healthcheck", "run", c.Name)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	var health struct {
		Status string
		Log    []struct {
			ExitCode int
			Output   string
		}
	}
	if js := c.Inspect(t, "{{json .State.Health}}"); json.Unmarshal([]byte(js), &health) != nil || len(health.Log) == 0 {
		t.Fatalf("%s: no health log after podman healthcheck run: %s (%v)", c.Name, js, err)
	}
	last := health.Log[len(health.Log)-1]
	return err == nil && last.ExitCode == 0, strings.TrimSpace(last.Output)
}

// WaitHealthy waits for the HEALTHCHECK to pass.
func (c *ImageContainer) WaitHealthy(t *testing.T) string {
	t.Helper()
	var out string
	testkit.WaitFor(t, 60*time.Second, c.Name+"'s HEALTHCHECK to pass", func() error {
		var ok bool
		if ok, out = c.Health(t); !ok {
			return fmt.Errorf("unhealthy: %s", out)
		}
		return nil
	})
	return out
}

// Get fetches path from the status port.
func (c *ImageContainer) Get(path string) (int, []byte, error) {
	return (&Container{Status: c.Status}).Get(path)
}

// WaitStatus waits until `/` answers code after a finished run, and
// returns the status document.
func (c *ImageContainer) WaitStatus(t *testing.T, code int) StatusDoc {
	t.Helper()
	var doc StatusDoc
	testkit.WaitFor(t, 90*time.Second, fmt.Sprintf("%s/ to answer %d after a run", c.Status, code), func() error {
		if st := c.Inspect(t, "{{.State.Status}}"); st != "running" {
			t.Fatalf("%s is %s", c.Name, st)
		}
		got, body, err := c.Get("/")
		if err != nil {
			return err
		}
		doc = StatusDoc{}
		if err := json.Unmarshal(body, &doc); err != nil {
			return fmt.Errorf("status JSON: %v: %s", err, body)
		}
		if doc.Last == nil || doc.Last.ExitTime == "" || got != code {
			return fmt.Errorf("%d: %w", got, testkit.ErrNotYet)
		}
		return nil
	})
	return doc
}

// statusAt is the status URL of a loopback port.
func statusAt(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// waitHTTP waits until url answers 200.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second}
	testkit.WaitFor(t, 90*time.Second, "GET "+url, func() error {
		resp, err := cl.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s", resp.Status)
		}
		return nil
	})
}
