package reliability

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
)

// defect is one fault found by review or by outside tests (issue 13) and the
// tests that pin its fix: each failed before the fix and passes after. They
// live beside the code they test; this table runs them again so the summary
// counts every defect as a case that must stay fixed.
type defect struct {
	name  string
	what  string
	pkg   string
	tests []string
	race  bool // the defect was a data race: only -race sees it
}

var defects = []defect{
	{"13.1 save panics when S3 refuses early", "etcd-backup read the trailer digest while its reader still wrote it (panic d.nx != 0, exit 2)",
		"cronbox/etcd-backup/backup", []string{"TestSaveS3RefusesLargeStream"}, true},
	{"13.1 gof3r stream counters", "gof3r read a stream's counters on error paths while a goroutine still wrote them",
		"cronbox/gof3r/s3", []string{"TestPutReturnsWhileTheInputBlocks", "TestGetStopsWritingWhenItReturns"}, true},
	{"13.2 region left to Go", "the entrypoint exported a guessed AWS_S3_REGION over the user's AWS_REGION",
		"cronbox/e2e", []string{"TestEtcdBackupSignsForTheUsersRegion", "TestEntrypointReadsOriginalForms"}, false},
	{"13.2 region from endpoint names", "dualstack and FIPS endpoint names gave no region",
		"cronbox/gof3r/s3", []string{"TestRegionFromEndpoint"}, false},
	{"13.3 prefix without a slash", "prune failed every run after a good save when ETCD_BACKUP_PREFIX had no trailing /",
		"cronbox/etcd-backup", []string{"TestJobScriptPrefixWithoutSlash"}, false},
	{"13.4 dump content type", "logical dumps were stored as application/x-etcd-snapshot",
		"cronbox/etcd-backup", []string{"TestDumpS3ContentTypeAndCodec"}, false},
	{"13.5 every multipart failure aborts", "the >5 GiB copy path left parts on the server after a failed completion",
		"cronbox/gof3r/s3", []string{"TestEveryMultipartFailureAborts"}, false},
	{"13.6 lock keep-alive race", "the lease keep-alive read the lock's client while Close set it to nil",
		"cronbox/go-cron/lock", []string{"TestCloseDuringKeepAlive"}, true},
	{"13.7 HEALTHCHECK passes", "the image's HEALTHCHECK ran /bin/wget, absent from the rootfs, and ignored a moved status port",
		"cronbox/e2e", []string{"TestImageHealthcheck"}, false},
	{"13.7 healthcheck follows the port", "go-cron --healthcheck asks the address go-cron bound, and passes with the port off",
		"cronbox/go-cron/cli", []string{"TestHealthcheckFollowsTheBoundAddress", "TestHealthcheckPassesWithTheStatusPortOff"}, false},
	{"13.8 templates with one name", "templates with the same file name in two folders overwrote each other",
		"cronbox/e2e", []string{"TestEntrypointTemplates"}, false},
	{"13.8 ep --output-dir", "globs were expanded twice; two files of one name are now refused",
		"cronbox/envplate/cli", []string{"TestOutputDir"}, false},
	{"13.9 second signal escalates", "a second SIGTERM/SIGINT during the grace period did not kill the job",
		"cronbox/go-cron/cli", []string{"TestSecondSignalKillsTheJobAtOnce"}, false},
	{"13.10 fuzz reference bounded", "FuzzAgainstEnvsubst stalled on inputs a8m/envsubst never returns from",
		"cronbox/envplate/subst", []string{"TestA8mReferenceIsBounded"}, false},
}

// TestDefectsStayFixed runs each defect's pinning tests with the real
// servers they start, and counts the defect in the summary.
func TestDefectsStayFixed(t *testing.T) {
	goBin := testkit.Need(t, "go")
	root := testkit.RepoRoot(t)
	for _, d := range defects {
		t.Run(d.name, func(t *testing.T) {
			track(t, "defects (issue 13)")
			args := []string{"test", "-count=1", "-v", "-run", "^(" + strings.Join(d.tests, "|") + ")$"}
			if d.race {
				args = append(args, "-race")
			}
			args = append(args, d.pkg)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, goBin, args...)
			cmd.Dir = root
			cmd.Env = os.Environ()
			if d.race {
				cmd.Env = append(cmd.Env, "CGO_ENABLED=1")
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s (%s): go %s: %v\n%s", d.name, d.what, strings.Join(args, " "), err, out)
			}
			// A -run pattern that matches nothing passes silently: make
			// sure every named test ran and passed.
			for _, name := range d.tests {
				if !strings.Contains(string(out), "--- PASS: "+name+" (") {
					t.Errorf("%s: %s did not run in %s", d.name, name, d.pkg)
				}
			}
		})
	}
}
