package cli

import (
	"log/slog"
	"time"

	"cronbox/es-snapshot/esclient"
	"cronbox/jobresult"
)

// reportCreate hands a finished snapshot to go-cron (GOCRON_RESULT_FILE;
// nothing without it), to show as the last good backup.
func reportCreate(env Env, log *slog.Logger, repo string, s *esclient.Snapshot, v esclient.Version) {
	r := jobresult.Result{
		Kind: "es-snapshot", Repository: repo, Snapshot: s.Name, Seconds: s.Duration(time.Now()).Seconds(),
		Search: &jobresult.Search{
			State: s.State, UUID: s.UUID, Version: v.String(),
			Shards: jobresult.Shards{Total: s.Shards.Total, Successful: s.Shards.Successful, Failed: s.Shards.Failed},
		},
	}
	r.Search.SetIndices(s.Indices)
	if n := s.Size(); n > 0 {
		r.Size = n
	}
	jobresult.Report(env.Getenv, log, r)
}
