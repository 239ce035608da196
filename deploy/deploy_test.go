package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
	"go.yaml.in/yaml/v3"
)

const (
	image      = "cronbox:latest"
	statusPort = 18080
)

// documented returns the variable names of the README's reference table.
func documented(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| `([A-Z0-9_]+)`(?:, `([A-Z0-9_]+)`)? \\|")
	names := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			names[m[1]] = true
			if m[2] != "" {
				names[m[2]] = true
			}
		}
	}
	if !names["GOCRON_SCHEDULE"] || !names["AWS_S3_BUCKET"] {
		t.Fatalf("README's variable table not found (got %v)", names)
	}
	return names
}

// checkEnvNames fails for a variable the README does not document (a
// NAME_FILE counts as NAME) and for a secret given by value.
func checkEnvNames(t *testing.T, where string, env map[string]string, doc map[string]bool) {
	t.Helper()
	for name, value := range env {
		base := strings.TrimSuffix(name, "_FILE")
		if !doc[base] {
			t.Errorf("%s: %s is not in the README's variable table", where, name)
		}
		if isSecret(name) && value != "" {
			t.Errorf("%s: secret %s is given by value; use %s_FILE or an env file", where, name, name)
		}
	}
}

func isSecret(name string) bool {
	switch name {
	case "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "ES_PASSWORD", "ES_API_KEY", "ETCD_PASSWORD":
		return true
	}
	return false
}

// splitExec splits a systemd command line into words the way systemd does:
// a quote may only wrap a whole word, so `-e A="b c"` (which systemd would
// cut at the space) is an error here.
func splitExec(line string) ([]string, error) {
	var words []string
	i := 0
	for i < len(line) {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		if i == len(line) {
			break
		}
		if q := line[i]; q == '"' || q == '\'' {
			end := strings.IndexByte(line[i+1:], q)
			if end < 0 {
				return nil, fmt.Errorf("unterminated %c at %d", q, i)
			}
			word := line[i+1 : i+1+end]
			i += end + 2
			if i < len(line) && line[i] != ' ' {
				return nil, fmt.Errorf("closing %c not followed by a space at %d", q, i)
			}
			words = append(words, word)
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			if line[j] == '"' || line[j] == '\'' {
				return nil, fmt.Errorf("quote inside the word starting %q: systemd only takes quotes around whole words", line[i:j+1])
			}
			j++
		}
		words = append(words, line[i:j])
		i = j
	}
	return words, nil
}

// dockerRun is what the test reads from a unit's `docker run`.
type dockerRun struct {
	image   string
	ports   []string
	env     map[string]string
	envFile []string
}

func parseDockerRun(words []string) (dockerRun, error) {
	if len(words) < 3 || words[0] != "/usr/bin/docker" || words[1] != "run" {
		return dockerRun{}, fmt.Errorf("not /usr/bin/docker run: %q", words)
	}
	r := dockerRun{env: map[string]string{}}
	for i := 2; i < len(words); i++ {
		w := words[i]
		next := func() (string, error) {
			if i+1 >= len(words) {
				return "", fmt.Errorf("%s without a value", w)
			}
			i++
			return words[i], nil
		}
		switch {
		case w == "-e" || w == "--env":
			v, err := next()
			if err != nil {
				return r, err
			}
			name, value, _ := strings.Cut(v, "=")
			r.env[name] = value
		case w == "-p" || w == "--publish":
			v, err := next()
			if err != nil {
				return r, err
			}
			r.ports = append(r.ports, v)
		case w == "--env-file":
			v, err := next()
			if err != nil {
				return r, err
			}
			r.envFile = append(r.envFile, v)
		case w == "--name":
			if _, err := next(); err != nil {
				return r, err
			}
		case strings.HasPrefix(w, "-"):
			// a flag without a value (--rm)
		default:
			r.image = w
			if i != len(words)-1 {
				return r, fmt.Errorf("arguments after the image %s: %q (the entrypoint takes go-cron flags only)", w, words[i+1:])
			}
		}
	}
	return r, nil
}

func TestSplitExec(t *testing.T) {
	cases := []struct {
		line string
		want []string // nil: an error
	}{
		{`/usr/bin/docker run -e "A=b c" img`, []string{"/usr/bin/docker", "run", "-e", "A=b c", "img"}},
		{`a 'b c'  d`, []string{"a", "b c", "d"}},
		{`-e A="b c"`, nil},
		{`"unterminated`, nil},
		{`"a"b`, nil},
	}
	for _, c := range cases {
		got, err := splitExec(c.line)
		if c.want == nil {
			if err == nil {
				t.Errorf("splitExec(%q) = %q, want an error", c.line, got)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("splitExec(%q) = %q, %v; want %q", c.line, got, err, c.want)
		}
	}
}

func readUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts, err := unit.Deserialize(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	sections := map[string]map[string][]string{}
	for _, o := range opts {
		if sections[o.Section] == nil {
			sections[o.Section] = map[string][]string{}
		}
		// systemd joins a continued line with a space; the parser keeps the backslash-newline.
		v := strings.ReplaceAll(o.Value, "\\\n", " ")
		sections[o.Section][o.Name] = append(sections[o.Section][o.Name], v)
	}
	return sections
}

func TestFleetUnits(t *testing.T) {
	doc := documented(t)
	cases := []struct {
		file      string
		job       string
		machineOf string // "" when the unit is not pinned
		secrets   []string
	}{
		{"fleet/es-backup@.service", "es-backup", "elasticsearch@%i.service", nil},
		{"fleet/etcd-backup.service", "etcd-backup", "", []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			u := readUnit(t, c.file)
			if got := u["X-Fleet"]["MachineOf"]; c.machineOf != "" && (len(got) != 1 || got[0] != c.machineOf) {
				t.Errorf("[X-Fleet] MachineOf = %q, want %q", got, c.machineOf)
			}
			if c.machineOf != "" && !contains(strings.Fields(strings.Join(u["Unit"]["After"], " ")), c.machineOf) {
				t.Errorf("[Unit] After= %q does not name %s", u["Unit"]["After"], c.machineOf)
			}
			starts := u["Service"]["ExecStart"]
			if len(starts) != 1 {
				t.Fatalf("want one ExecStart, got %q", starts)
			}
			words, err := splitExec(starts[0])
			if err != nil {
				t.Fatalf("ExecStart: %v", err)
			}
			run, err := parseDockerRun(words)
			if err != nil {
				t.Fatalf("ExecStart: %v", err)
			}
			if run.image != image {
				t.Errorf("image %q, want %q", run.image, image)
			}
			if len(run.ports) != 1 || !strings.HasSuffix(run.ports[0], fmt.Sprintf(":%d", statusPort)) {
				t.Errorf("ports %q: want the status port %d published", run.ports, statusPort)
			}
			if run.env["JOB"] != c.job {
				t.Errorf("JOB=%q, want %q", run.env["JOB"], c.job)
			}
			checkEnvNames(t, c.file, run.env, doc)
			for _, s := range c.secrets {
				if _, ok := run.env[s]; ok {
					t.Errorf("%s is on the docker command line", s)
				}
			}
			if len(c.secrets) > 0 && len(run.envFile) == 0 {
				t.Errorf("no --env-file for the secrets %v", c.secrets)
			}
			if stop := u["Service"]["ExecStop"]; len(stop) != 1 || !strings.Contains(stop[0], "docker stop -t 60") {
				t.Errorf("ExecStop %q: want docker stop -t 60 (longer than go-cron's grace period)", stop)
			}
			// The environment the container would get, through the real entrypoint.
			env := map[string]string{}
			for k, v := range run.env {
				env[k] = strings.ReplaceAll(v, "${COREOS_PRIVATE_IPV4}", "10.0.0.7")
			}
			for _, s := range c.secrets {
				env[s] = "from-the-env-file"
			}
			entrypointCheck(t, env, nil, c.job)
		})
	}
}

// Just the Kubernetes fields this test reads.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		// Deployment
		Replicas *int `yaml:"replicas"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template podTemplate `yaml:"template"`
		// CronJob
		Schedule          string `yaml:"schedule"`
		ConcurrencyPolicy string `yaml:"concurrencyPolicy"`
		JobTemplate       struct {
			Spec struct {
				Template podTemplate `yaml:"template"`
			} `yaml:"spec"`
		} `yaml:"jobTemplate"`
		// Service
		Ports []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type podTemplate struct {
	Metadata struct {
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		TerminationGracePeriodSeconds int    `yaml:"terminationGracePeriodSeconds"`
		RestartPolicy                 string `yaml:"restartPolicy"`
		SecurityContext               struct {
			RunAsNonRoot bool `yaml:"runAsNonRoot"`
			RunAsUser    int  `yaml:"runAsUser"`
		} `yaml:"securityContext"`
		Containers []container `yaml:"containers"`
		Volumes    []struct {
			Name   string `yaml:"name"`
			Secret *struct {
				SecretName string `yaml:"secretName"`
			} `yaml:"secret"`
			EmptyDir any `yaml:"emptyDir"`
		} `yaml:"volumes"`
	} `yaml:"spec"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom any    `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

func readManifests(t *testing.T, path string) map[string]k8sObject {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	objs := map[string]k8sObject{}
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
			t.Fatalf("%s: a document without apiVersion, kind or metadata.name", path)
		}
		objs[o.Kind] = o
	}
	return objs
}

// checkPod checks the container against the rest of the pod and returns the
// environment it would get, with *_FILE paths mapped to the Secret's keys.
func checkPod(t *testing.T, where string, pod podTemplate, secret k8sObject, doc map[string]bool) (map[string]string, map[string]string) {
	t.Helper()
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%s: want one container, got %d", where, len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if c.Image != image {
		t.Errorf("%s: image %q, want %q", where, c.Image, image)
	}
	if !pod.Spec.SecurityContext.RunAsNonRoot || pod.Spec.SecurityContext.RunAsUser != 10001 {
		t.Errorf("%s: want runAsNonRoot with runAsUser 10001 (the image's cronbox user)", where)
	}
	if pod.Spec.TerminationGracePeriodSeconds < 30 {
		t.Errorf("%s: terminationGracePeriodSeconds %d: a running upload needs time to abort", where, pod.Spec.TerminationGracePeriodSeconds)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			t.Errorf("%s: %s comes from valueFrom; secrets are mounted files (NAME_FILE)", where, e.Name)
		}
		env[e.Name] = e.Value
	}
	checkEnvNames(t, where, env, doc)
	mounts := map[string]string{} // mount path -> volume
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	secretVolumes := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil {
			secretVolumes[v.Name] = v.Secret.SecretName
		}
	}
	files := map[string]string{} // NAME_FILE -> secret key
	for name, path := range env {
		if !strings.HasSuffix(name, "_FILE") {
			continue
		}
		vol, ok := mounts[filepath.Dir(path)]
		if !ok {
			t.Errorf("%s: %s=%s: no volume is mounted at %s", where, name, path, filepath.Dir(path))
			continue
		}
		if secretVolumes[vol] != secret.Metadata.Name {
			t.Errorf("%s: %s: volume %s is not the Secret %s", where, name, vol, secret.Metadata.Name)
		}
		key := filepath.Base(path)
		if _, ok := secret.StringData[key]; !ok {
			t.Errorf("%s: %s: the Secret has no key %s", where, name, key)
		}
		files[name] = key
	}
	if _, ok := mounts["/tmp"]; !ok {
		t.Errorf("%s: no volume at /tmp (the root filesystem is read-only)", where)
	}
	return env, files
}

func TestKubernetesDeployment(t *testing.T) {
	doc := documented(t)
	objs := readManifests(t, "kubernetes/cronbox.yaml")
	d, secret, svc := objs["Deployment"], objs["Secret"], objs["Service"]
	if d.Kind == "" || secret.Kind == "" || svc.Kind == "" {
		t.Fatalf("want a Deployment, a Secret and a Service, got %v", keys(objs))
	}
	pod := d.Spec.Template
	if !subset(d.Spec.Selector.MatchLabels, pod.Metadata.Labels) {
		t.Errorf("selector %v does not match the pod's labels %v", d.Spec.Selector.MatchLabels, pod.Metadata.Labels)
	}
	env, files := checkPod(t, "Deployment", pod, secret, doc)
	// Two pods must never back up at once: one replica replaced with
	// Recreate, or the etcd lock, which runs each slot on one pod only.
	if env["GOCRON_LOCK_ETCD"] == "" || env["GOCRON_LOCK_NAME"] == "" {
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != "Recreate" {
			t.Errorf("replicas %v, strategy %q: without GOCRON_LOCK_ETCD and GOCRON_LOCK_NAME, want 1 replica and Recreate", d.Spec.Replicas, d.Spec.Strategy.Type)
		}
	} else if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
		t.Errorf("replicas %v: with the lock set, run at least 2", d.Spec.Replicas)
	}
	c := pod.Spec.Containers[0]
	portName := ""
	for _, p := range c.Ports {
		if p.ContainerPort == statusPort {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Fatalf("container does not expose %d", statusPort)
	}
	for _, p := range []struct {
		what, path string
		probe      *probe
	}{{"liveness", "/healthz", c.LivenessProbe}, {"readiness", "/", c.ReadinessProbe}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no %s httpGet probe", p.what)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe path %q, want %q", p.what, p.probe.HTTPGet.Path, p.path)
		}
		if port := fmt.Sprint(p.probe.HTTPGet.Port); port != portName && port != fmt.Sprint(statusPort) {
			t.Errorf("%s probe port %v is not the status port", p.what, port)
		}
	}
	b, err := os.ReadFile("kubernetes/cronbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	svcSel := serviceSelector(t, b)
	if len(svcSel) == 0 || !subset(svcSel, pod.Metadata.Labels) {
		t.Errorf("Service selector %v does not select the pod (labels %v)", svcSel, pod.Metadata.Labels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != statusPort ||
		(fmt.Sprint(svc.Spec.Ports[0].TargetPort) != portName && fmt.Sprint(svc.Spec.Ports[0].TargetPort) != fmt.Sprint(statusPort)) {
		t.Errorf("Service ports %+v: want %d to the status port", svc.Spec.Ports, statusPort)
	}
	for _, a := range []map[string]string{svc.Metadata.Annotations, pod.Metadata.Annotations} {
		if a["prometheus.io/scrape"] != "true" || a["prometheus.io/port"] != fmt.Sprint(statusPort) || a["prometheus.io/path"] != "/metrics" {
			t.Errorf("prometheus annotations %v: want scrape=true, port=%d, path=/metrics", a, statusPort)
		}
	}
	entrypointCheck(t, env, files, "etcd-backup")
}

func TestKubernetesCronJob(t *testing.T) {
	doc := documented(t)
	objs := readManifests(t, "kubernetes/cronjob.yaml")
	secret := readManifests(t, "kubernetes/cronbox.yaml")["Secret"]
	cj := objs["CronJob"]
	if cj.Kind == "" {
		t.Fatalf("no CronJob in cronjob.yaml")
	}
	if fields := strings.Fields(cj.Spec.Schedule); len(fields) != 5 {
		t.Errorf("schedule %q: Kubernetes wants 5 fields", cj.Spec.Schedule)
	}
	if cj.Spec.ConcurrencyPolicy != "Forbid" {
		t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
	}
	pod := cj.Spec.JobTemplate.Spec.Template
	if pod.Spec.RestartPolicy != "Never" {
		t.Errorf("restartPolicy %q, want Never (a failed backup is a failed Job)", pod.Spec.RestartPolicy)
	}
	env, files := checkPod(t, "CronJob", pod, secret, doc)
	c := pod.Spec.Containers[0]
	if !contains(c.Args, "--once") {
		t.Errorf("args %q: want --once (go-cron runs the job once and exits with its status)", c.Args)
	}
	if _, ok := env["GOCRON_SCHEDULE"]; ok {
		t.Errorf("GOCRON_SCHEDULE set in the CronJob: Kubernetes schedules it")
	}
	entrypointCheck(t, env, files, "etcd-backup", c.Args...)
}

func TestCompose(t *testing.T) {
	doc := documented(t)
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Ports       []string          `yaml:"ports"`
			Environment map[string]string `yaml:"environment"`
			Secrets     []string          `yaml:"secrets"`
		} `yaml:"services"`
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(compose.Services) == 0 {
		t.Fatal("compose.yaml: no services")
	}
	for name, s := range compose.Services {
		where := "compose " + name
		if s.Image != image {
			t.Errorf("%s: image %q, want %q", where, s.Image, image)
		}
		if len(s.Ports) != 1 || !strings.HasSuffix(s.Ports[0], fmt.Sprintf(":%d", statusPort)) {
			t.Errorf("%s: ports %q: want the status port %d published", where, s.Ports, statusPort)
		}
		checkEnvNames(t, where, s.Environment, doc)
		files := map[string]string{}
		for k, v := range s.Environment {
			if !strings.HasSuffix(k, "_FILE") {
				continue
			}
			secret := strings.TrimPrefix(v, "/run/secrets/")
			if !contains(s.Secrets, secret) || compose.Secrets[secret].File == "" {
				t.Errorf("%s: %s=%s is not a secret of the service", where, k, v)
			}
			files[k] = secret
		}
		entrypointCheck(t, s.Environment, files, s.Environment["JOB"])
	}
}

// entrypointCheck runs the real entrypoint (scripts/entrypoint, in busybox
// sh, with --check) on the environment a manifest gives the container, so a
// manifest the entrypoint would refuse fails here. files maps NAME_FILE
// variables to a secret's name; the test writes a stand-in file for each.
func entrypointCheck(t *testing.T, env map[string]string, files map[string]string, wantJob string, args ...string) {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is not installed (%v): run `make deps`", err)
	}
	dir := t.TempDir()
	cmdEnv := []string{"PATH=" + imageTools(t) + ":/usr/bin:/bin", "CRONBOX_JOBS_DIR=../scripts", "CRONBOX_RENDER_DIR=" + filepath.Join(dir, "render")}
	for k, v := range env {
		if secret, ok := files[k]; ok {
			v = filepath.Join(dir, secret)
			if err := os.WriteFile(v, []byte("stand-in-"+secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	sort.Strings(cmdEnv)
	cmd := exec.Command(busybox, append([]string{"sh", "../scripts/entrypoint", "--check"}, args...)...)
	cmd.Env = cmdEnv
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("entrypoint --check refuses this environment: %v\n%s\nenv: %q", err, errb.String(), cmdEnv)
	}
	line, _ := bufio.NewReader(&out).ReadString('\n')
	if !strings.Contains(line, "("+wantJob+")") {
		t.Errorf("entrypoint chose %q, want the job %s", strings.TrimSpace(line), wantJob)
	}
}

// imageTools builds, once, the tools the entrypoint asks to check the
// configuration (etcd-backup check, es-snapshot check, go-cron --check, ep),
// so a manifest's variables are checked by the same code as at a start.
var (
	toolsOnce sync.Once
	toolsDir  string
	toolsErr  error
)

func imageTools(t *testing.T) string {
	t.Helper()
	toolsOnce.Do(func() {
		if toolsDir, toolsErr = os.MkdirTemp("", "cronbox-deploy-tools-"); toolsErr != nil {
			return // left for the OS, as testkit.Build's binaries are
		}
		for name, pkg := range map[string]string{"go-cron": "cronbox/go-cron", "etcd-backup": "cronbox/etcd-backup", "es-snapshot": "cronbox/es-snapshot", "ep": "cronbox/envplate"} {
			if out, err := exec.Command("go", "build", "-o", filepath.Join(toolsDir, name), pkg).CombinedOutput(); err != nil {
				toolsErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if toolsErr != nil {
		t.Fatal(toolsErr)
	}
	return toolsDir
}

func serviceSelector(t *testing.T, manifest []byte) map[string]string {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(manifest))
	for {
		var o struct {
			Kind string `yaml:"kind"`
			Spec struct {
				Selector yaml.Node `yaml:"selector"`
			} `yaml:"spec"`
		}
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("no Service in the manifest: %v", err)
		}
		if o.Kind == "Service" {
			var sel map[string]string
			if err := o.Spec.Selector.Decode(&sel); err != nil {
				t.Fatalf("Service selector: %v", err)
			}
			return sel
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// subset reports whether every label of sel is in labels with the same value.
func subset(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]k8sObject) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
