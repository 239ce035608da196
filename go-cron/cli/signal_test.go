package cli_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cronbox/testkit"
)

// A second SIGTERM or SIGINT while the job has its grace period kills the
// job's process group at once: here the job and its background child
// ignore SIGTERM and SIGINT, the grace period is 10 minutes, and go-cron
// exits as soon as the second signal has killed them.
func TestSecondSignalKillsTheJobAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second syscall.Signal
	}{
		{"TERM then TERM", syscall.SIGTERM, syscall.SIGTERM},
		{"TERM then INT", syscall.SIGTERM, syscall.SIGINT},
		{"INT then INT", syscall.SIGINT, syscall.SIGINT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			t.Setenv("DIR", dir)
			g := start(t, options{}, "--grace", "10m", "--run-on-start", never, "--", "sh", "-c",
				`trap '' TERM INT; sleep 600 & echo $! > "$DIR/child"; touch "$DIR/ready"; wait`)
			testkit.WaitFor(t, 20*time.Second, "the job to be ready", func() error { _, err := os.Stat(filepath.Join(dir, "ready")); return err })
			b, err := os.ReadFile(filepath.Join(dir, "child"))
			if err != nil {
				t.Fatal(err)
			}
			child, _ := strconv.Atoi(strings.TrimSpace(string(b)))

			if err := syscall.Kill(g.pid, tc.first); err != nil {
				t.Fatal(err)
			}
			// The first signal was forwarded; the job ignores it.
			testkit.WaitFor(t, 20*time.Second, "the first signal forwarded", func() error {
				for _, l := range g.logs() {
					if l["msg"] == "stopping job" {
						return nil
					}
				}
				return testkit.ErrNotYet
			})
			select {
			case <-g.exited:
				t.Fatalf("go-cron exited on the first signal: %v", g.err)
			default:
			}
			if err := syscall.Kill(g.pid, tc.second); err != nil {
				t.Fatal(err)
			}
			if code := g.wait(t, 60*time.Second); code != 1 {
				t.Errorf("exit %d, want 1 (the run was killed)", code)
			}
			var second, killed, failed bool
			for _, l := range g.logs() {
				switch l["msg"] {
				case "stopping: second signal: killing the running job's process group now":
					second = true
				case "killing the job's process group now":
					killed = true
				case "run failed":
					failed = l["signal"] == "SIGKILL"
				}
			}
			if !second || !killed || !failed {
				t.Errorf("logs: second signal %v, group killed %v, run failed by SIGKILL %v", second, killed, failed)
			}
			// The background child went with the group.
			testkit.WaitFor(t, 20*time.Second, "the job's child to be gone", func() error {
				if err := syscall.Kill(child, 0); errors.Is(err, syscall.ESRCH) || procState(child) == "Z" {
					return nil
				}
				return errors.New("still running: " + procState(child))
			})
		})
	}
}
