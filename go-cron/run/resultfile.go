package run

import (
	"encoding/json"
	"log/slog"
	"os"

	"cronbox/go-cron/redact"
	"cronbox/jobresult"
)

// resultFile is one run's GOCRON_RESULT_FILE: made empty before the job
// starts (0600, in go-cron's own directory, so nothing else can plant it),
// read and removed after it ends.
type resultFile struct {
	path string // "": no result file for this run
	log  *slog.Logger
}

func newResultFile(dir string, log *slog.Logger) *resultFile {
	rf := &resultFile{log: log}
	if dir == "" {
		return rf
	}
	f, err := os.CreateTemp(dir, "run-*.json")
	if err != nil {
		log.Warn("cannot make the run's result file; the job runs without "+jobresult.Env, "err", err)
		return rf
	}
	f.Close()
	rf.path = f.Name()
	return rf
}

// env is the job's environment with the file's path in it.
func (rf *resultFile) env(env []string) []string {
	if rf.path == "" {
		return env
	}
	if env == nil {
		env = os.Environ()
	}
	// exec uses the last of duplicate names: this one wins over any
	// GOCRON_RESULT_FILE go-cron itself was started with.
	return append(env[:len(env):len(env)], jobresult.Env+"="+rf.path)
}

// read returns what the job wrote, masked, and removes the file.
func (rf *resultFile) read(red *redact.Redactor) (json.RawMessage, string) {
	if rf.path == "" {
		return nil, ""
	}
	defer os.Remove(rf.path)
	raw, _, err := jobresult.Read(rf.path, red.String)
	if err != nil {
		rf.log.Warn("the job's result file is not used", "err", red.String(err.Error()))
		return raw, red.String(err.Error())
	}
	return raw, ""
}
