package reliability

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"cronbox/testkit"
	"cronbox/testkit/etcdtest"
)

func canary(what string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "CANARY" + what + hex.EncodeToString(b)
}

// procScanner reads /proc/*/cmdline of every process on the machine, over
// and over while jobs run, and remembers any that holds a canary.
type procScanner struct {
	canaries []string
	roots    sync.Map // pid -> true: the containers' first processes
	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	found    []string
	scans    int
	pids     map[string]string // container processes seen: pid -> argv[0]
}

func scanProcs(canaries []string) *procScanner {
	s := &procScanner{canaries: canaries, stop: make(chan struct{}), done: make(chan struct{}), pids: map[string]string{}}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				if e.Name()[0] < '0' || e.Name()[0] > '9' {
					continue
				}
				b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
				if err != nil || !s.inContainer(e.Name()) {
					continue
				}
				s.mu.Lock()
				s.pids[e.Name()] = filepath.Base(strings.SplitN(string(b), "\x00", 2)[0])
				s.mu.Unlock()
				for _, c := range s.canaries {
					if strings.Contains(string(b), c) {
						s.mu.Lock()
						s.found = append(s.found, fmt.Sprintf("pid %s: %q", e.Name(), strings.ReplaceAll(string(b), "\x00", " ")))
						s.mu.Unlock()
					}
				}
			}
			s.mu.Lock()
			s.scans++
			s.mu.Unlock()
			time.Sleep(2 * time.Millisecond) // a sampling rate, not synchronisation
		}
	}()
	return s
}

// inContainer reports whether pid descends from (or is) a container's first
// process; test servers (versitygw holds its secret on its command line)
// stand outside it.
func (s *procScanner) inContainer(pid string) bool {
	for i := 0; i < 64 && pid != "0" && pid != "1"; i++ {
		if _, ok := s.roots.Load(pid); ok {
			return true
		}
		b, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil {
			return false
		}
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 2 {
			return false
		}
		pid = f[1]
	}
	return false
}

func (s *procScanner) finish() ([]string, int) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.found, s.scans
}

// TestSecretsCanary runs the image's entrypoint (busybox sh, go-cron, the job
// scripts and tools) with every secret variable set to a unique canary, for
// jobs that succeed and jobs that fail, and looks for the canaries in the
// status JSON, /metrics, every log line and every process's command line.
func TestSecretsCanary(t *testing.T) {
	st := newStore(t)
	root := testkit.RepoRoot(t)
	busybox := testkit.Need(t, "busybox")
	// The S3 secret must be the server's real one for a good job: it is unique
	// per run, so it is a canary too.
	awsSecret := st.srv.SecretKey
	etcdPass, etcdWrong := canary("etcd"), canary("etcdwrong")
	// Backup encryption: the age identities are secrets of their own shape.
	ageID, _ := age.GenerateX25519Identity()
	wrongID, _ := age.GenerateX25519Identity()
	passphrase := canary("passphrase")
	esPass, esKey, esURLPass := canary("espass"), canary("eskey"), canary("esurl")

	e := etcdtest.Embed(t, etcdtest.Options{})
	cli := e.Client(t)
	if _, err := cli.Put(ctx(t), "/app/config", "x"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserAdd(ctx(t), "root", etcdPass); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.UserGrantRole(ctx(t), "root", "root"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.AuthEnable(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// An ES that refuses the credentials, as a real one with security does.
	es := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"type":"security_exception","reason":"unable to authenticate user [elastic] for REST request [/]"},"status":401}`)
	}))
	t.Cleanup(es.Close)
	secretFile := filepath.Join(t.TempDir(), "aws-secret")
	os.WriteFile(secretFile, []byte(awsSecret+"\n"), 0o600)

	// Every message channel of go-cron's notifications, each with a secret
	// of its own in its URL or settings: a dead-man's-switch ping URL with a
	// token, a signed webhook, a chat service (ntfy) with a password, and
	// mail through a real SMTP server that requires a password. Every run
	// notifies (success too), so every channel carries every job's output.
	rec := testkit.NewRecorder(t)
	pingToken, hookToken, hookKey := canary("pingtoken"), canary("hooktoken"), canary("hookkey")
	ntfyPass, smtpPass := canary("ntfypass"), canary("smtppass")
	smtp := testkit.SMTP(t, "mailer", smtpPass)
	hookKeyFile := filepath.Join(t.TempDir(), "webhook-key")
	os.WriteFile(hookKeyFile, []byte(hookKey+"\n"), 0o600)
	notifyEnv := []string{
		"GOCRON_PING_URL=" + rec.URL + "/ping/" + pingToken,
		"GOCRON_WEBHOOK_URL=" + rec.URL + "/hook/" + hookToken,
		"GOCRON_WEBHOOK_SECRET_FILE=" + hookKeyFile,
		"GOCRON_NOTIFY_URLS=ntfy://alerts:" + ntfyPass + "@" + strings.TrimPrefix(rec.URL, "http://") + "/cronbox?scheme=http" +
			" smtp://mailer:" + smtpPass + "@" + smtp.Addr + "/?from=cronbox@example.org&to=ops@example.org",
		"GOCRON_NOTIFY_ON=failure,recovery,stale,success", "GOCRON_NOTIFY_RETRIES=0",
	}

	base := []string{
		"CRONBOX_JOBS_DIR=" + filepath.Join(root, "scripts"), "CRONBOX_RENDER_DIR=" + t.TempDir(),
		"GOCRON_SCHEDULE=*/2 * * * * *", "AWS_ACCESS_KEY_ID=" + st.srv.AccessKey,
		"AWS_S3_ENDPOINT=" + st.srv.Endpoint, "AWS_S3_BUCKET=" + st.bucket, "AWS_S3_REGION=us-east-1",
	}
	jobs := []struct {
		name string
		env  []string
		good bool
	}{
		{"etcd good (S3 secret, etcd password)", []string{"JOB=etcd-backup", "ETCD_ENDPOINTS=" + e.Endpoint,
			"AWS_SECRET_ACCESS_KEY=" + awsSecret, "ETCDCTL_USER=root", "ETCDCTL_PASSWORD=" + etcdPass}, true},
		{"etcd failing (wrong etcd password, S3 secret from a file)", []string{"JOB=etcd-backup", "ETCD_ENDPOINTS=" + e.Endpoint,
			"AWS_SECRET_ACCESS_KEY_FILE=" + secretFile, "ETCDCTL_USER=root", "ETCDCTL_PASSWORD=" + etcdWrong}, false},
		{"etcd good, encrypted (age identity to verify with)", []string{"JOB=etcd-backup", "ETCD_ENDPOINTS=" + e.Endpoint,
			"AWS_SECRET_ACCESS_KEY=" + awsSecret, "ETCDCTL_USER=root", "ETCDCTL_PASSWORD=" + etcdPass, "ETCD_BACKUP_PREFIX=age/",
			"ETCD_BACKUP_COMPRESS=zstd", "ETCD_BACKUP_ENCRYPT_TO=" + ageID.Recipient().String(), "ETCD_BACKUP_IDENTITY=" + ageID.String()}, true},
		{"etcd failing, encrypted (a wrong identity)", []string{"JOB=etcd-backup", "ETCD_ENDPOINTS=" + e.Endpoint,
			"AWS_SECRET_ACCESS_KEY=" + awsSecret, "ETCDCTL_USER=root", "ETCDCTL_PASSWORD=" + etcdPass, "ETCD_BACKUP_PREFIX=wrong/",
			"ETCD_BACKUP_ENCRYPT_TO=" + ageID.Recipient().String(), "ETCD_BACKUP_IDENTITY=" + wrongID.String()}, false},
		{"etcd good, passphrase", []string{"JOB=etcd-backup", "ETCD_ENDPOINTS=" + e.Endpoint,
			"AWS_SECRET_ACCESS_KEY=" + awsSecret, "ETCDCTL_USER=root", "ETCDCTL_PASSWORD=" + etcdPass, "ETCD_BACKUP_PREFIX=pass/",
			"ETCD_BACKUP_PASSPHRASE=" + passphrase}, true},
		{"es failing (password)", []string{"JOB=es-backup", "ES_HOST_URL=" + es.URL, "ES_REPOSITORY=repo",
			"ES_USERNAME=elastic", "ES_PASSWORD=" + esPass}, false},
		{"es failing (API key)", []string{"JOB=es-backup", "ES_HOST_URL=" + es.URL, "ES_REPOSITORY=repo", "ES_API_KEY=" + esKey}, false},
		{"es failing (password in the URL)", []string{"JOB=es-backup", "ES_HOST_URL=" + strings.Replace(es.URL, "http://", "http://elastic:"+esURLPass+"@", 1), "ES_REPOSITORY=repo"}, false},
	}
	canaries := []string{awsSecret, etcdPass, etcdWrong, esPass, esKey, esURLPass, pingToken, hookToken, hookKey, ntfyPass, smtpPass,
		ageID.String(), wrongID.String(), passphrase}
	scan := scanProcs(canaries)
	for _, j := range jobs {
		t.Run(j.name, func(t *testing.T) {
			o := track(t, "secrets canary")
			addr := statusAddr(t)
			p := start(t, append(append(append([]string{}, base...), notifyEnv...), j.env...), nil, busybox, "sh", filepath.Join(root, "scripts", "entrypoint"), "--status-addr", addr, "--run-on-start")
			scan.roots.Store(fmt.Sprint(p.cmd.Process.Pid), true)
			var seen []string
			var code int
			// Three finished runs (the status JSON keeps a history).
			testkit.WaitFor(t, 90*time.Second, "three finished runs", func() error {
				c, _, body, err := getStatus(addr)
				if err != nil {
					return err
				}
				code = c
				mb := get(addr, "/metrics")
				seen = append(seen[:0], string(body), mb)
				if strings.Count(mb, "\n") == 0 {
					return testkit.ErrNotYet
				}
				if n := runsTotal(mb); n < 3 {
					return fmt.Errorf("%d runs", n)
				}
				return nil
			})
			seen = append(seen, get(addr, "/healthz"))
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.wait(t)
			seen = append(seen, p.stdout.String(), p.stderr.String())
			if j.good && code != 200 {
				t.Errorf("the good job's status is %d: %s", code, tail(p.stderr.String(), 3000))
			}
			if !j.good && code != 503 {
				t.Errorf("the failing job's status is %d, want 503", code)
			}
			for _, s := range seen {
				for _, c := range canaries {
					if strings.Contains(s, c) {
						i := strings.Index(s, c)
						t.Errorf("canary %s leaked: ...%s...", c[:12], s[max(0, i-200):min(len(s), i+len(c)+50)])
					}
				}
			}
			_ = o
		})
	}
	t.Run("messages", func(t *testing.T) {
		track(t, "secrets canary")
		// What each channel carried: bodies and headers, but not the
		// credentials a channel legitimately presents to its own receiver
		// (ntfy's Authorization; SMTP AUTH is not part of the mail).
		var carried []string
		n := map[string]int{}
		for _, r := range rec.Requests("/") {
			kind := strings.SplitN(strings.TrimPrefix(r.Path, "/"), "/", 2)[0]
			n[kind]++
			h := r.Header.Clone()
			if kind == "cronbox" {
				h.Del("Authorization")
			}
			carried = append(carried, r.Body, fmt.Sprint(h))
		}
		mails, err := smtp.Mails()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mails {
			carried = append(carried, m.Content, m.MailFrom, strings.Join(m.RcptTos, ","))
		}
		t.Logf("messages carried: %v requests by first path segment, %d mails", n, len(mails))
		if n["ping"] == 0 || n["hook"] == 0 || n["cronbox"] == 0 || len(mails) == 0 {
			t.Errorf("a channel carried nothing: %v requests, %d mails", n, len(mails))
		}
		for _, s := range carried {
			for _, c := range canaries {
				if strings.Contains(s, c) {
					i := strings.Index(s, c)
					t.Errorf("canary %s in a message: ...%s...", c[:14], s[max(0, i-200):min(len(s), i+len(c)+50)])
				}
			}
		}
	})
	t.Run("command lines", func(t *testing.T) {
		track(t, "secrets canary")
		found, scans := scan.finish()
		progs := map[string]int{}
		for _, p := range scan.pids {
			progs[p]++
		}
		t.Logf("%d scans of /proc/*/cmdline while the jobs ran; container processes seen: %v", scans, progs)
		// es-snapshot refusing a login lives ~10 ms and a scan may miss it;
		// etcd-backup runs long enough to be seen every time.
		if progs["etcd-backup"] == 0 || progs["go-cron"] == 0 {
			t.Errorf("the scan never saw the tools run: %v", progs)
		}
		seen := map[string]bool{}
		for _, f := range found {
			if !seen[f] {
				seen[f] = true
				t.Errorf("a canary on a command line: %s", f)
			}
		}
	})
}

func get(addr, path string) string {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// runsTotal sums gocron_runs_total over its results.
func runsTotal(metrics string) int {
	n := 0
	for _, l := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(l, "gocron_runs_total{") {
			var v int
			fmt.Sscanf(l[strings.LastIndex(l, " ")+1:], "%d", &v)
			n += v
		}
	}
	return n
}
