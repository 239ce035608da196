package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
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
