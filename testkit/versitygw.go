package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// S3Server is a real versitygw S3 gateway (SigV4 and all) on loopback,
// storing buckets as directories under Dir with its posix backend.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Host      string // 127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Dir       string // the posix root: Dir/BUCKET/KEY is an object's bytes

	cmd      *exec.Cmd
	logs     *Buffer
	stopOnce sync.Once
}

// Versitygw starts versitygw on a free loopback port with a fresh directory
// and stops it when the test ends. It fails the test if versitygw is not
// installed (`make deps` installs it).
func Versitygw(t testing.TB) *S3Server {
	t.Helper()
	return VersitygwWith(t, VersitygwOptions{})
}

// VersitygwOptions are the optional features of a test server.
type VersitygwOptions struct {
	// Versioning lets buckets keep versions (posix --versioning-dir), as
	// every bucket with object lock does on AWS.
	Versioning bool
	// AccessKey and SecretKey are the credentials; default a fixed access
	// key and a fresh secret.
	AccessKey, SecretKey string
}

// VersitygwWith is Versitygw with options.
func VersitygwWith(t testing.TB, opts VersitygwOptions) *S3Server {
	t.Helper()
	bin := Need(t, "versitygw")
	s := &S3Server{
		AccessKey: "cronboxtestaccess",
		SecretKey: "cronboxtestsecret-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Dir:       t.TempDir(),
	}
	if opts.AccessKey != "" || opts.SecretKey != "" {
		s.AccessKey, s.SecretKey = opts.AccessKey, opts.SecretKey
	}
	versions := t.TempDir() // outside Dir, where every directory is a bucket
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s.Host = "127.0.0.1:" + strconv.Itoa(FreePort(t))
		s.Endpoint = "http://" + s.Host
		s.logs = &Buffer{Limit: 1 << 20}
		args := []string{"--port", s.Host, "--access", s.AccessKey, "--secret", s.SecretKey, "posix"}
		if opts.Versioning {
			args = append(args, "--versioning-dir", versions)
		}
		s.cmd = exec.Command(bin, append(args, s.Dir)...)
		s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- s.cmd.Wait() }()
		lastErr = Poll(10*time.Second, func() error {
			select {
			case err := <-exited:
				exited <- err
				return nil // stop polling: it died
			default:
			}
			return Dial(s.Host)
		})
		select {
		case err := <-exited:
			lastErr = fmt.Errorf("versitygw exited: %v\n%s", err, s.logs.String())
			continue // most likely the port was taken meanwhile
		default:
		}
		if lastErr == nil {
			t.Cleanup(func() { s.Stop(); <-exited })
			return s
		}
		_ = s.cmd.Process.Kill()
		<-exited
	}
	t.Fatalf("versitygw did not start: %v", lastErr)
	return nil
}

// Bucket creates bucket name (a directory under Dir, which is what a bucket
// is to the posix backend) and returns name.
func (s *S3Server) Bucket(t testing.TB, name string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(s.Dir, name), 0o755); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// ObjectPath is where the object's bytes live on disk, for tests that
// corrupt an object behind the server's back.
func (s *S3Server) ObjectPath(bucket, key string) string {
	return filepath.Join(s.Dir, bucket, filepath.FromSlash(key))
}

// Env is the environment a cronbox tool needs to reach this server.
func (s *S3Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=us-east-1",
		"AWS_S3_ENDPOINT=" + s.Endpoint,
	}
}

// Stop kills the server (tests of an S3 outage call it early).
func (s *S3Server) Stop() {
	s.stopOnce.Do(func() { _ = s.cmd.Process.Kill() })
}

// Logs returns what the server printed so far.
func (s *S3Server) Logs() string { return s.logs.String() }
