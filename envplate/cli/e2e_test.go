package cli_test

// These tests run the real ep binary, built by testkit.Build, the way the
// image's entrypoint runs it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

type result struct {
	code           int
	stdout, stderr string
	pid            int
}

func ep(t *testing.T, env []string, args ...string) result {
	t.Helper()
	bin := testkit.Build(t, "cronbox/envplate")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if cmd.Process != nil {
		r.pid = cmd.Process.Pid
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("run ep %v: %v", args, err)
	}
	return r
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The original image's entrypoint line, flags between the globs, then exec:
// the command replaces ep (same pid) and its exit status is ep's.
func TestExecAfterDoubleDash(t *testing.T) {
	dir := t.TempDir()
	job := write(t, dir, "jobs/elasticsearchbackupjob.sh", "curl -XPUT \"${ES_HOST_URL}/_snapshot/${ES_REPOSITORY:-s3_repo}/$(date +%s)_${ES_SNAPSHOTNAME}\"\n")
	sched := write(t, dir, "root/scheduler.sh", "echo \"pid=$$\"\ncat "+job+"\nexit ${EXIT_WITH}\n")
	r := ep(t, []string{"ES_HOST_URL=http://es:9200", "ES_SNAPSHOTNAME=nightly", "EXIT_WITH=7"},
		"-v", filepath.Join(dir, "jobs/*"), "-v", sched, "--", "/bin/sh", sched)
	if r.code != 7 {
		t.Fatalf("exit status %d, want 7 (the command's); stderr %s", r.code, r.stderr)
	}
	want := "pid=" + strconv.Itoa(r.pid) + "\ncurl -XPUT \"http://es:9200/_snapshot/s3_repo/$(date +%s)_nightly\"\n"
	if r.stdout != want {
		t.Fatalf("stdout %q, want %q (the command ran in ep's process with the rendered job)", r.stdout, want)
	}
	for _, name := range []string{"ES_HOST_URL(env)", "ES_REPOSITORY(default)", "EXIT_WITH(env)"} {
		if !strings.Contains(r.stderr, name) {
			t.Errorf("verbose stderr %q does not mention %s", r.stderr, name)
		}
	}
	if strings.Contains(r.stderr, "http://es:9200") {
		t.Errorf("verbose stderr shows a value: %q", r.stderr)
	}

	// A command name without a slash is looked up in PATH; status 0 too.
	for _, code := range []string{"0", "3"} {
		write(t, dir, "x.conf", "x=1\n")
		if r := ep(t, nil, filepath.Join(dir, "x.conf"), "--", "sh", "-c", "exit "+code); strconv.Itoa(r.code) != code {
			t.Fatalf("exit status %d, want %s; stderr %s", r.code, code, r.stderr)
		}
	}
}

func TestFailuresChangeNothingAndRunNothing(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a.conf", "key=${SECRET_KEY}\n")
	b := write(t, dir, "b.conf", "bucket=${AWS_S3_BUCKET}\n")
	c := write(t, dir, "c.conf", "one=${SECRET_KEY}\n\n  url=${ES_HOST_URL}\n")
	marker := filepath.Join(dir, "ran")
	env := []string{"SECRET_KEY=t0p-s3cr3t", "AWS_S3_BUCKET=b"}
	r := ep(t, env, "-v", filepath.Join(dir, "*.conf"), "--", "/bin/sh", "-c", "touch "+marker)
	if r.code != 2 {
		t.Fatalf("exit status %d, want 2; stderr %q", r.code, r.stderr)
	}
	wantLine := "ep: " + c + ":3:7: ES_HOST_URL is not set and the reference has no default (no file was changed)\n"
	if !strings.HasSuffix(r.stderr, wantLine) {
		t.Fatalf("stderr %q, want it to end with %q", r.stderr, wantLine)
	}
	if strings.Contains(r.stderr, "t0p-s3cr3t") {
		t.Fatalf("stderr shows a secret: %q", r.stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran although rendering failed")
	}
	for p, want := range map[string]string{a: "key=${SECRET_KEY}\n", b: "bucket=${AWS_S3_BUCKET}\n"} {
		if got := read(t, p); got != want {
			t.Fatalf("%s = %q, want it untouched", p, got)
		}
	}

	// Strict mode refuses a default; NAME_FILE supplies a secret.
	secret := write(t, dir, "secrets/key", "from-file\n")
	d := write(t, dir, "d.conf", "k=${SECRET_KEY} r=${ES_REPOSITORY:-s3_repo}\n")
	if r := ep(t, []string{"SECRET_KEY_FILE=" + secret}, "-s", d); r.code != 2 || !strings.Contains(r.stderr, d+":1:19: ES_REPOSITORY is unset (strict mode refuses the default)") {
		t.Fatalf("strict: status %d, stderr %q", r.code, r.stderr)
	}
	if r := ep(t, []string{"SECRET_KEY_FILE=" + secret}, "-b", d); r.code != 0 || read(t, d) != "k=from-file r=s3_repo\n" || read(t, d+".bak") != "k=${SECRET_KEY} r=${ES_REPOSITORY:-s3_repo}\n" {
		t.Fatalf("status %d, stderr %q, file %q", r.code, r.stderr, read(t, d))
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "f.conf", "a=${A:-x}\n")
	for _, c := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--help"}, 0, "usage: ep [-b] [-d] [-s] [-v]", ""},
		{[]string{"--version"}, 0, "ep ", ""},
		{nil, 2, "", "ep: no file globs given"},
		{[]string{"-x", f}, 2, "", `ep: unknown flag -x in "-x"`},
		{[]string{"--etcd"}, 2, "", "ep: flag --etcd needs a value"},
		{[]string{"-c"}, 2, "", "ep: flag -c needs a charset name"},
		{[]string{"--charset", "ebcdic", f}, 2, "", `ep: flag --charset: charset "ebcdic" is not supported`},
		{[]string{filepath.Join(dir, "*.yaml")}, 2, "", `matches no file`},
		{[]string{"-d", f, "--", "/bin/sh", "-c", "exit 9"}, 0, "a=x\n", ""}, // dry run: print, exec nothing
		{[]string{f, "--", "no-such-command"}, 2, "", `command "no-such-command": executable file not found`},
	} {
		r := ep(t, nil, c.args...)
		if r.code != c.code || !strings.Contains(r.stdout, c.stdout) || !strings.Contains(r.stderr, c.stderr) || (c.stderr == "" && r.stderr != "") {
			t.Errorf("ep %v: status %d, stdout %q, stderr %q; want %d, %q, %q", c.args, r.code, r.stdout, r.stderr, c.code, c.stdout, c.stderr)
		}
	}
	if got := read(t, f); got != "a=${A:-x}\n" {
		t.Fatalf("dry run changed the file: %q", got)
	}
}

func TestEtcdSource(t *testing.T) {
	server := etcdtest.Embed(t, etcdtest.Options{})
	endpoint, c := server.Endpoint, server.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for k, v := range map[string]string{"/cronbox/ES_HOST_URL": "http://es-from-etcd:9200", "/cronbox/ES_REPOSITORY": "etcd_repo"} {
		if _, err := c.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	tpl := "url=${ES_HOST_URL} repo=${ES_REPOSITORY}\n"
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--etcd", endpoint, "--etcd-prefix", "/cronbox/"}, "url=http://es-from-etcd:9200 repo=etcd_repo\n"},
		{[]string{"ES_REPOSITORY=env_repo"}, []string{"--etcd=" + endpoint}, "url=http://es-from-etcd:9200 repo=env_repo\n"},
		{[]string{"ES_REPOSITORY=env_repo"}, []string{"--etcd", endpoint, "--etcd-wins"}, "url=http://es-from-etcd:9200 repo=etcd_repo\n"},
		{[]string{"ES_REPOSITORY=env_repo", "EP_ETCD_ENDPOINTS=\"" + endpoint + "\"", "EP_ETCD_WINS=true"}, nil, "url=http://es-from-etcd:9200 repo=etcd_repo\n"},
	} {
		f := write(t, dir, "es.conf", tpl)
		r := ep(t, tc.env, append(append([]string{"-v"}, tc.args...), f)...)
		if r.code != 0 || read(t, f) != tc.want {
			t.Fatalf("ep %v with %v: status %d, stderr %q, file %q; want %q", tc.args, tc.env, r.code, r.stderr, read(t, f), tc.want)
		}
		if strings.Contains(r.stderr, "es-from-etcd") || !strings.Contains(r.stderr, "ES_HOST_URL(etcd)") {
			t.Fatalf("verbose stderr %q: want names and sources, no values", r.stderr)
		}
	}

	// An etcd nobody answers on: exit 1 within the timeout, naming it, and
	// the file is untouched.
	dead := "http://127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	f := write(t, dir, "es.conf", tpl)
	start := time.Now()
	r := ep(t, []string{"ES_HOST_URL=x", "ES_REPOSITORY=y"}, "--etcd", dead, "--etcd-timeout", "500ms", f)
	if r.code != 1 || !strings.HasPrefix(r.stderr, "ep: etcd "+dead+": ") || strings.Count(r.stderr, "\n") != 1 || read(t, f) != tpl {
		t.Fatalf("dead etcd: status %d, stderr %q, file %q", r.code, r.stderr, read(t, f))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("dead etcd took %s with a 500ms timeout", d)
	}
}

// SIGTERM cancels the root context: ep waiting on an etcd that does not
// answer stops at once, with exit status 1, and changes nothing.
func TestSigtermCancelsEtcdWait(t *testing.T) {
	dir := t.TempDir()
	f := write(t, dir, "f.conf", "a=${A:-x}\n")
	dead := "http://127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	cmd := exec.Command(testkit.Build(t, "cronbox/envplate"), "-v", "--etcd", dead, "--etcd-timeout", "60s", f)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			lines <- s.Text()
		}
	}()
	var got []string
	deadline := time.After(20 * time.Second)
	for waiting := true; waiting; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("ep ended before it waited on etcd: %q", got)
			}
			got = append(got, l)
			waiting = !strings.Contains(l, "reading variables from etcd")
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no 'reading variables from etcd' line after 20s: %q", got)
		}
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		got = append(got, l)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("after SIGTERM: %v, want exit status 1; stderr %q", err, got)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("ep took %s to stop after SIGTERM", d)
	}
	if last := got[len(got)-1]; !strings.Contains(last, "context canceled") {
		t.Fatalf("last stderr line %q, want the cancellation", last)
	}
	if read(t, f) != "a=${A:-x}\n" {
		t.Fatal("the file changed")
	}
}

// A command given as a path (absolute or relative) is checked before any
// file is written, as a bare name is looked up in PATH first: a missing,
// non-executable or directory command changes no file and runs nothing.
func TestCommandPathCheckedBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	notExec := write(t, dir, "not-exec.sh", "#!/bin/sh\n")
	for _, cmd := range []string{"/nonexistent/cmd", "./nonexistent/cmd", "nonexistent/cmd", notExec, dir} {
		f := write(t, dir, "x.conf", "x=${X}\n")
		r := ep(t, []string{"X=1"}, f, "--", cmd, "arg")
		if r.code != 2 || !strings.Contains(r.stderr, `command "`+cmd+`"`) || !strings.Contains(r.stderr, "no file was changed") {
			t.Errorf("ep FILE -- %s: status %d, stderr %q; want 2 naming the command", cmd, r.code, r.stderr)
		}
		if got := read(t, f); got != "x=${X}\n" {
			t.Errorf("ep FILE -- %s rewrote the file: %q", cmd, got)
		}
	}
	// A relative path that exists is run relative to the working directory.
	write(t, dir, "x.conf", "x=${X}\n")
	cmd := exec.Command(testkit.Build(t, "cronbox/envplate"), "x.conf", "--", "./run.sh")
	write(t, dir, "run.sh", "#!/bin/sh\ncat x.conf\n")
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd.Dir, cmd.Env = dir, []string{"X=2", "PATH=/usr/bin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "x=2\n" {
		t.Errorf("ep x.conf -- ./run.sh: %v, %q", err, out)
	}
}

// kreuzwerker's -c (charset): values are written in the file's charset.
// Expected bytes as kreuzwerker's ep (v1.0.3-14-gec00ede, built beside ours)
// wrote them, and where ours differs on purpose, what kreuzwerker did.
func TestCharset(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args, env []string
		template  string
		code      int
		want      string // the file afterwards
		stderr    string
	}{
		// kreuzwerker: "a=\xe9", the same.
		{[]string{"-c", "iso8859-1"}, []string{"U=é"}, "a=${U}\n", 0, "a=\xe9\n", ""},
		{[]string{"--charset=windows-1252"}, []string{"U=€"}, "a=${U}\n", 0, "a=\x80\n", ""},
		{[]string{"-bckoi8-r"}, []string{"U=Ж"}, "a=${U}\n", 0, "a=\xf6\n", ""},
		{nil, []string{"U=é", "EP_CHARSET=latin1"}, "a=${U}\n", 0, "a=\xe9\n", ""},
		// The file's own bytes (a Latin-1 default, text) are already in its
		// charset and stay; kreuzwerker converted the default as if it were
		// UTF-8 and wrote "a=?" for "\xe9".
		{[]string{"-c", "latin1"}, nil, "caf\xe9 ${NOPE:-\xe9t\xe9}\n", 0, "caf\xe9 \xe9t\xe9\n", ""},
		// kreuzwerker passed the value to Fprintf as a format: "100%!d(MISSING)".
		{[]string{"-c", "latin1"}, []string{"P=100%d"}, "a=${P}\n", 0, "a=100%d\n", ""},
		// kreuzwerker wrote "a=?" (exit 0); ours refuses, nothing changes.
		{[]string{"-c", "iso8859-1"}, []string{"U=€"}, "a=${U}\n", 2, "a=${U}\n", "t.conf:1:3: U cannot be written: the value has a character that ISO 8859-1 cannot write (at byte 0)"},
		// kreuzwerker: exit 1 (shift_jis), a nil pointer panic (utf-16).
		{[]string{"-c", "shift_jis"}, []string{"U=x"}, "a=${U}\n", 2, "a=${U}\n", `flag -c: charset "shift_jis" is not supported`},
		{[]string{"--charset", "utf-16"}, []string{"U=x"}, "a=${U}\n", 2, "a=${U}\n", `flag --charset: charset "utf-16" is not supported`},
		{nil, []string{"EP_CHARSET=nope"}, "a=1\n", 2, "a=1\n", `EP_CHARSET: charset "nope" is not supported`},
	} {
		f := write(t, dir, "t.conf", c.template)
		r := ep(t, c.env, append(c.args, f)...)
		if got := read(t, f); r.code != c.code || got != c.want || !strings.Contains(r.stderr, c.stderr) || (c.stderr == "" && r.stderr != "") {
			t.Errorf("ep %v with %v on %q: status %d, file %q, stderr %q; want %d, %q, %q", c.args, c.env, c.template, r.code, got, r.stderr, c.code, c.want, c.stderr)
		}
	}
}

// Two places where ep reads a template differently from kreuzwerker's ep
// (v1.0.3-14-gec00ede), observed with both on the same files and listed in
// the README's migration section.
func TestDiffersFromKreuzwerker(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ template, want, kreuzwerker string }{
		// A default may span lines; kreuzwerker's pattern stops at a newline,
		// so it left the whole reference as it was.
		{"a=${NOPE:-x\ny}\n", "a=x\ny\n", "a=${NOPE:-x\ny}\n"},
		// "\${" makes only the "${" literal: what follows is text, and the
		// reference inside it is expanded. kreuzwerker's escape covered
		// everything up to the first "}", so the inner reference stayed.
		{"a=\\${FOO:-${FOO}}\n", "a=${FOO:-val}\n", "a=${FOO:-${FOO}}\n"},
		// ":-" takes the default for an empty value too, as sh does;
		// kreuzwerker's only for an unset one ("-" does that here).
		{"a=${EMPTY:-d}\n", "a=d\n", "a=\n"},
		// Defaults nest; kreuzwerker's reference ended at the first "}".
		{"a=${NOPE:-${FOO:-x}}\n", "a=val\n", "a=${FOO:-x}\n"},
	} {
		f := write(t, dir, "t.conf", c.template)
		if r := ep(t, []string{"FOO=val", "EMPTY="}, f); r.code != 0 || read(t, f) != c.want {
			t.Errorf("%q: status %d, file %q, stderr %q; want %q (kreuzwerker: %q)", c.template, r.code, read(t, f), r.stderr, c.want, c.kreuzwerker)
		}
	}
}

// --output-dir (EP_OUTPUT_DIR) renders read-only originals into a directory;
// the entrypoint's TEMPLATES use it.
func TestOutputDir(t *testing.T) {
	dir := t.TempDir()
	a := write(t, dir, "a/app.conf", "h=${H}\n")
	write(t, dir, "b/app.conf", "h=${H}\n")
	out := filepath.Join(dir, "out")
	if r := ep(t, []string{"H=x"}, "--output-dir", out, a); r.code != 0 || read(t, filepath.Join(out, "app.conf")) != "h=x\n" || read(t, a) != "h=${H}\n" {
		t.Fatalf("status %d, stderr %q", r.code, r.stderr)
	}
	r := ep(t, []string{"H=x", "EP_OUTPUT_DIR=" + out}, filepath.Join(dir, "*/app.conf"))
	if want := "would both be rendered to " + filepath.Join(out, "app.conf"); r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Fatalf("status %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
	}
}
