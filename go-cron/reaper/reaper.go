// Package reaper does go-cron's PID 1 duty of reaping orphans: processes a
// job left behind are re-parented to go-cron (as PID 1, or as a child
// subreaper otherwise) and would stay zombies forever if nobody waited for
// them. It reaps only zombies it was not told to leave alone, so the runner's
// exec.Cmd.Wait still gets its own child's exit status.
package reaper

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Reaper reaps orphaned zombies.
type Reaper struct {
	mu        sync.Mutex
	protected map[int]bool
	self      int
	log       *slog.Logger
}

// New returns a Reaper; call Run to start it.
func New(log *slog.Logger) *Reaper {
	return &Reaper{protected: map[int]bool{}, self: os.Getpid(), log: log}
}

// SetSubreaper makes orphans of go-cron's descendants its children even when
// it is not PID 1 (prctl PR_SET_CHILD_SUBREAPER).
func SetSubreaper() error {
	const prSetChildSubreaper = 36
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}

// Start forks under the reaper's lock and protects the new child, so the
// child cannot be reaped here even when it exits at once.
func (r *Reaper) Start(fork func() (int, error)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := fork()
	if err == nil {
		r.protected[pid] = true
	}
	return err
}

// Release lets the reaper have pid again (after its Wait returned).
func (r *Reaper) Release(pid int) {
	r.mu.Lock()
	delete(r.protected, pid)
	r.mu.Unlock()
}

// Run reaps on every SIGCHLD until ctx is done.
func (r *Reaper) Run(ctx context.Context) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGCHLD)
	defer signal.Stop(ch)
	r.Reap()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			r.Reap()
		}
	}
}

// Reap waits for every zombie child that is not protected, and returns how
// many it reaped. Signals coalesce, so each pass reaps all it finds.
func (r *Reaper) Reap() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, pid := range r.zombies() {
		if r.protected[pid] {
			continue
		}
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		if err != nil || got != pid {
			continue
		}
		n++
		if r.log != nil {
			r.log.Debug("reaped orphan", "pid", pid, "status", ws.ExitStatus())
		}
	}
	return n
}

// zombies lists this process's children in state Z, from /proc: the
// children files of its threads when the kernel has them, every process
// otherwise.
func (r *Reaper) zombies() []int {
	var names []string
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err == nil {
			names = append(names, strings.Fields(string(b))...)
		}
	}
	if len(tasks) == 0 {
		if d, err := os.Open("/proc"); err == nil {
			names, _ = d.Readdirnames(-1)
			d.Close()
		}
	}
	var out []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[0] != "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == r.self {
			out = append(out, pid)
		}
	}
	return out
}
