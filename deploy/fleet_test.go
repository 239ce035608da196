package deploy

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// The fleet units: their docker run lines read as docker reads them.

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
