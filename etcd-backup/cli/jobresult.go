package cli

import (
	"log/slog"
	"time"

	"cronbox/etcd-backup/backup"
	"cronbox/jobresult"
)

// reportSave hands a finished save to go-cron (GOCRON_RESULT_FILE; nothing
// without it), to show as the last good backup: where, how many bytes were
// stored, and whether compressed, encrypted, object-locked.
func reportSave(env Env, log *slog.Logger, res backup.SaveResult) {
	r := jobresult.Result{
		Kind: "etcd-snapshot", Location: res.Dest, Size: res.StoredSize, SHA256: res.SHA256, Seconds: res.Seconds,
		Etcd: &jobresult.Etcd{Revision: res.Revision, MemberID: res.MemberID, Version: res.Version, Endpoint: res.Endpoint},
	}
	if res.Compression != "" && res.Compression != "none" {
		r.Compressed = res.Compression
	}
	if res.Encrypted {
		r.Encrypted = "age"
	}
	if res.LockedUntil != nil {
		r.Locked = res.LockMode + " until " + res.LockedUntil.Format(time.RFC3339)
	}
	jobresult.Report(env.Getenv, log, r)
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
