package cli

import (
	"log/slog"

	"cronbox/etcd-backup/backup"
	"cronbox/jobresult"
)

// reportSave hands a finished save to go-cron (GOCRON_RESULT_FILE; nothing
// without it), to show as the last good backup. Compressed, Encrypted and
// Locked are left for save to fill when it writes that way.
func reportSave(env Env, log *slog.Logger, res backup.SaveResult) {
	jobresult.Report(env.Getenv, log, jobresult.Result{
		Kind: "etcd-snapshot", Location: res.Dest, Size: res.Size, SHA256: res.SHA256, Seconds: res.Seconds,
		Etcd: &jobresult.Etcd{Revision: res.Revision, MemberID: res.MemberID, Version: res.Version, Endpoint: res.Endpoint},
	})
}

// reportVerified marks the backup save reported in this run as verified,
// when verify checked that very object.
func reportVerified(env Env, log *slog.Logger, res backup.VerifyResult) {
	err := jobresult.Update(env.Getenv, func(r *jobresult.Result) bool {
		if r.Kind != "etcd-snapshot" || r.Location != res.Source || (r.SHA256 != "" && r.SHA256 != res.SHA256) {
			return false
		}
		r.Verified = true
		return true
	})
	if err != nil {
		log.Warn("could not hand the verification to go-cron; the backup itself verified", "err", err)
	}
}
