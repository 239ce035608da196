package reaper

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
)

func state(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	s := string(b)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
}

// An orphan that lands on us is reaped; a protected child is left for its
// own Wait, which then still sees its exit status.
func TestReapsOrphansButNotProtectedChildren(t *testing.T) {
	if err := SetSubreaper(); err != nil {
		t.Fatalf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	r := New(nil)

	child := exec.Command("sh", "-c", "exit 3")
	if err := r.Start(func() (int, error) { err := child.Start(); return child.Process.Pid, err }); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "the protected child to exit", func() error {
		if state(child.Process.Pid) != "Z" {
			return testkit.ErrNotYet
		}
		return nil
	})
	r.Reap()
	err := child.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("the protected child's Wait: %v (reaped by the reaper?)", err)
	}
	r.Release(child.Process.Pid)

	// sh starts a child and exits at once: the child is re-parented to us.
	out, err := exec.Command("sh", "-c", `sleep 0.1 >/dev/null & echo $!`).Output()
	if err != nil {
		t.Fatal(err)
	}
	orphan, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	testkit.WaitFor(t, 5*time.Second, "the orphan to exit and be reaped", func() error {
		r.Reap()
		if st := state(orphan); st != "" {
			return testkit.ErrNotYet
		}
		return nil
	})
}
