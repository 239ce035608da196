package cli

import (
	"strings"
	"testing"
)

// In incremental mode check prints the chain's plan, checks the policy's
// variables with save's own code, and skips the verify of one object.
func TestCheckIncremental(t *testing.T) {
	code, out, errOut := checkRun(t, jobEnv("ETCD_BACKUP_INCREMENTAL", "true", "AWS_S3_ENDPOINT", "http://127.0.0.1:7070",
		"ETCD_BACKUP_FULL_EVERY", "@daily", "ETCD_BACKUP_FULL_AFTER_DELTAS", "500"))
	want := `etcd-backup check: save --incremental: etcd http://127.0.0.1:2379 -> s3://backups/etcd-backup/ (deltas under s3://backups/etcd-backup/delta/; a full snapshot on the schedule @daily, after 500 deltas, after deltas of 100% of the full snapshot, when etcd compacted the chain's next revision, or when etcd is not the chain's; while a full snapshot streams, a delta every 10s) on http://127.0.0.1:7070 (region us-east-1), not compressed, not encrypted
etcd-backup check: prune: s3://backups/etcd-backup/: keep last 30, never fewer than 1 verified (points in time: each kept one keeps its full snapshot and the deltas before it)
`
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("exit %d\n%s%s\nwant:\n%s", code, out, errOut, want)
	}
	for _, c := range []struct{ name, value, want string }{
		{"ETCD_BACKUP_FULL_EVERY", "-1h", "ETCD_BACKUP_FULL_EVERY"},
		{"ETCD_BACKUP_FULL_EVERY", "0 0 31 2 *", "never fires"},
		{"ETCD_BACKUP_FULL_AFTER_DELTAS", "1.5", "ETCD_BACKUP_FULL_AFTER_DELTAS"},
		{"ETCD_BACKUP_FULL_AFTER_BYTES", "-5%", "ETCD_BACKUP_FULL_AFTER_BYTES"},
		{"ETCD_BACKUP_TMPDIR", "/nonexistent/dir", "ETCD_BACKUP_TMPDIR"},
		{"ETCD_BACKUP_DELTAS_DURING_FULL", "often", "ETCD_BACKUP_DELTAS_DURING_FULL"},
	} {
		code, out, errOut := checkRun(t, jobEnv("ETCD_BACKUP_INCREMENTAL", "true", c.name, c.value))
		if code != 2 || out != "" || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("%s=%s: exit %d, %q %q; want exit 2 naming %s", c.name, c.value, code, out, errOut, c.want)
		}
	}
}
