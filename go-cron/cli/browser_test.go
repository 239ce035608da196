package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
	"cronbox/testkit/browsertest"
	"cronbox/testkit/etcdtest"
)

// The status page in a real browser (headless chromium), served by real
// go-cron processes running real jobs in each state a person may find: what
// they read (the health line, the last good backup, the rows of runs), at
// 1280 and 375 px wide, with and without JavaScript, and the accessibility
// basics. Screenshots go to build/screenshots/ for review.

// seen is what the page shows, read by pageScript.
type seen struct {
	Health, Good, Running, Lock, Schedule string
	Rows, Fires, H1, Overflow             int
	H2                                    []string
	Problems                              []string // accessibility
}

// pageScript reads the page as a person would, and checks the basics:
// one h1, no skipped heading level, named regions and chart, scoped table
// headers, link text, and text contrast (WCAG AA: 4.5, 3 for large text).
const pageScript = `
const q = s => document.querySelector(s), text = s => q(s) ? q(s).innerText.trim() : "";
const problems = [];
if (!document.documentElement.lang) problems.push("html without lang");
let level = 0;
document.querySelectorAll("h1,h2,h3,h4,h5,h6").forEach(h => {
  const l = +h.tagName[1];
  if (l > level + 1) problems.push("heading level skipped at " + h.tagName + " " + h.innerText);
  level = l;
});
document.querySelectorAll("section").forEach(s => {
  const id = s.getAttribute("aria-labelledby");
  if (!id || !document.getElementById(id) || !document.getElementById(id).textContent.trim()) problems.push("section without a heading label: " + s.id);
});
document.querySelectorAll("svg").forEach(s => {
  const ids = (s.getAttribute("aria-labelledby") || "").split(" ").filter(Boolean);
  if (s.getAttribute("role") !== "img" || !ids.length || ids.some(i => !document.getElementById(i))) problems.push("chart without role img and a name");
});
document.querySelectorAll("th").forEach(th => { if (!th.getAttribute("scope")) problems.push("th without scope: " + th.innerText); });
document.querySelectorAll("a").forEach(a => { if (!a.innerText.trim()) problems.push("link without text: " + a.href); });
document.querySelectorAll("details").forEach(d => { if (!d.querySelector("summary")) problems.push("details without summary"); });
const rgb = c => { const m = c.match(/[\d.]+/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; };
const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b); };
const background = e => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.a > 0) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
document.querySelectorAll("body *").forEach(e => {
  const own = [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.textContent).join("").trim();
  const st = getComputedStyle(e);
  if (!own || st.visibility === "hidden" || st.display === "none" || e.getClientRects().length === 0) return;
  if (e.closest("svg") || e.closest("script") || e.closest("style")) return;
  const a = lum(rgb(st.color)), b = lum(background(e));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  const size = parseFloat(st.fontSize), bold = +st.fontWeight >= 700;
  const need = (size >= 24 || (size >= 18.66 && bold)) ? 3 : 4.5;
  if (ratio < need) problems.push("contrast " + ratio.toFixed(2) + " < " + need + ": " + e.tagName + " " + own.slice(0, 40));
});
return {
  Health: text("#health"), Good: text("#good-summary"), Running: text("#now"), Lock: text("#section-lock"), Schedule: text("#schedule"),
  Rows: document.querySelectorAll("#runs-table tbody tr").length, Fires: document.querySelectorAll("#next-fires li").length,
  H1: document.querySelectorAll("h1").length, H2: [...document.querySelectorAll("h2")].map(h => h.innerText.trim()),
  Overflow: document.documentElement.scrollWidth - window.innerWidth, Problems: problems,
};`

func readPage(t *testing.T, b *browsertest.Browser) seen {
	t.Helper()
	v, ok := b.Eval(t, pageScript).(map[string]any)
	if !ok {
		t.Fatalf("page script returned %v", v)
	}
	var s seen
	str := func(k string) string { x, _ := v[k].(string); return x }
	num := func(k string) int { x, _ := v[k].(float64); return int(x) }
	strs := func(k string) []string {
		var out []string
		l, _ := v[k].([]any)
		for _, x := range l {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	s.Health, s.Good, s.Running, s.Lock, s.Schedule = str("Health"), str("Good"), str("Running"), str("Lock"), str("Schedule")
	s.Rows, s.Fires, s.H1, s.Overflow = num("Rows"), num("Fires"), num("H1"), num("Overflow")
	s.H2, s.Problems = strs("H2"), strs("Problems")
	return s
}

func TestStatusPageInABrowser(t *testing.T) {
	root := testkit.RepoRoot(t)
	shots := filepath.Join(root, "build", "screenshots")
	desktop := browsertest.Start(t, browsertest.Options{Width: 1280, Height: 900})
	phone := browsertest.Start(t, browsertest.Options{Width: 375, Height: 740})
	noJS := browsertest.Start(t, browsertest.Options{NoJavaScript: true})
	busybox := testkit.Need(t, "/bin/busybox")
	etcd := etcdtest.Embed(t, etcdtest.Options{})
	lockEtcd := etcdtest.StartCluster(t, etcdtest.ClusterOptions{Size: 1})
	s3 := testkit.Versitygw(t)
	bucket := s3.Bucket(t, "backups")

	for _, tc := range []struct {
		name string
		// setup starts go-cron (and whatever else) and waits for the state.
		setup  func(t *testing.T) *gocron
		health string // a regexp of the whole line
		good   string // a regexp
		rows   int
		check  func(t *testing.T, s seen, b *browsertest.Browser, g *gocron)
	}{
		{
			name: "never-ran",
			setup: func(t *testing.T) *gocron {
				return start(t, options{env: []string{"TZ=Europe/Berlin"}}, never, "--", "true")
			},
			health: `^Healthy: no run has finished yet$`, good: `^None yet: no run has succeeded\.$`, rows: 0,
			check: func(t *testing.T, s seen, _ *browsertest.Browser, _ *gocron) {
				if s.Fires != 5 || !strings.Contains(s.Schedule, "on 0 0 1 1 *: at 00:00:00 on day-of-month 1 in January (5 fields, minute first") ||
					!strings.Contains(s.Schedule, "Time zone local (CET)") || !strings.Contains(s.Running, "Idle.") {
					t.Errorf("schedule %q (%d fire times), now %q", s.Schedule, s.Fires, s.Running)
				}
			},
		},
		{
			// The image's real etcd job: scripts/etcd-backup in busybox sh,
			// etcd-backup saving a real etcd to a real S3 server.
			name: "success",
			setup: func(t *testing.T) *gocron {
				bin := testkit.Build(t, "cronbox/etcd-backup")
				env := append(s3.Env(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "AWS_S3_BUCKET="+bucket,
					"ETCD_BACKUP_PREFIX=etcd-backup/", "ETCD_ENDPOINTS="+etcd.Endpoint, "ETCD_KEEP_LAST=5", "ETCD_MIN_KEEP=1")
				g := start(t, options{env: env}, "--run-on-start", never, "--", busybox, "sh", filepath.Join(root, "scripts", "etcd-backup"))
				if s := g.waitFinished(t, 60*time.Second); s.Last.Exit_status != 0 {
					t.Fatalf("the backup failed: %+v", s.Last)
				}
				return g
			},
			health: `^Healthy: the last run succeeded (just now|\d+ s ago)$`, good: `^s3://` + bucket + `/etcd-backup/\d{8}T\d{6}\.\d{3}Z\.db$`, rows: 1,
			check: func(t *testing.T, s seen, b *browsertest.Browser, _ *gocron) {
				card := b.String(t, `return document.getElementById("last-good").innerText`)
				for _, want := range []string{`etcd-snapshot`, `SHA-256\s+[0-9a-f]{64}`, `revision \d+, member [0-9a-f]+, version 3\.\d+\.\d+`, `Checks\s+verified,`, `Size\s+\d+\.\d KiB`} {
					if !regexp.MustCompile(want).MatchString(card) {
						t.Errorf("last good backup card lacks %s:\n%s", want, card)
					}
				}
			},
		},
		{
			// One good run, two failed ones, then a run that hangs.
			name: "failure",
			setup: func(t *testing.T) *gocron {
				n := filepath.Join(t.TempDir(), "n")
				script := `n=$(cat ` + n + ` 2>/dev/null || echo 0); n=$((n+1)); echo $n > ` + n + `
case $n in
1) echo "saved"; printf '{"location":"s3://backups/manual/one.tar","size":2048}' > "$GOCRON_RESULT_FILE" ;;
2|3) echo "upload failed: connection reset by peer" >&2; exit 3 ;;
*) exec sleep 300 ;;
esac`
				g := start(t, options{}, "* * * * * *", "--", "sh", "-c", script)
				testkit.WaitFor(t, 30*time.Second, "three finished runs and one hanging", func() error {
					if _, s, _ := g.status(t); len(s.History) < 3 || len(s.Running) != 1 {
						return testkit.ErrNotYet
					}
					return nil
				})
				return g
			},
			health: `^Unhealthy: last run failed: exit status 3$`, good: `^s3://backups/manual/one\.tar$`, rows: 3,
			check: func(t *testing.T, s seen, b *browsertest.Browser, _ *gocron) {
				if !strings.Contains(s.Running, "Running since") {
					t.Errorf("now %q", s.Running)
				}
				cells := b.String(t, `return [...document.querySelectorAll("#runs-table tbody tr td:nth-child(3)")].map(td => td.innerText.trim()).join(",")`)
				if cells != "failure,failure,success" {
					t.Errorf("result column %q", cells)
				}
			},
		},
		{
			name: "running",
			setup: func(t *testing.T) *gocron {
				release := filepath.Join(t.TempDir(), "release")
				t.Setenv("RELEASE", release)
				g := start(t, options{}, "--run-on-start", never, "--", "sh", "-c",
					`echo "etcd-backup: 1/3 save"; echo "50% sent" >&2; while [ ! -e "$RELEASE" ]; do sleep 0.05; done; echo "etcd-backup: done"`)
				testkit.WaitFor(t, 20*time.Second, "the job running", func() error {
					if _, s, _ := g.status(t); len(s.Running) != 1 {
						return testkit.ErrNotYet
					}
					return nil
				})
				return g
			},
			health: `^Healthy: the first run is going$`, good: `^None yet`, rows: 0,
			check: func(t *testing.T, s seen, b *browsertest.Browser, g *gocron) {
				if !strings.Contains(s.Running, "Running since") || !strings.Contains(s.Running, "etcd-backup: 1/3 save") || !strings.Contains(s.Running, "50% sent") {
					t.Errorf("now %q", s.Running)
				}
				if b != desktop {
					return
				}
				// The page refreshes itself, without a reload, when the run ends.
				b.Eval(t, `window.notReloaded = true; return 0`)
				if err := os.WriteFile(os.Getenv("RELEASE"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				testkit.WaitFor(t, 30*time.Second, "the page to show the finished run", func() error {
					h := b.String(t, `return window.notReloaded ? document.getElementById("health").innerText : "reloaded"`)
					if h == "reloaded" {
						t.Fatal("the page reloaded")
					}
					if !strings.HasPrefix(h, "Healthy: the last run succeeded") {
						return fmt.Errorf("health line %q", h)
					}
					return nil
				})
				if rows := b.Eval(t, `return document.querySelectorAll("#runs-table tbody tr").length`); rows != 1.0 {
					t.Errorf("rows after the refresh: %v", rows)
				}
			},
		},
		{
			name: "stale",
			setup: func(t *testing.T) *gocron {
				g := start(t, options{}, "--max-age", "1s", "--run-on-start", never, "--", "true")
				testkit.WaitFor(t, 20*time.Second, "stale", func() error {
					if _, s, _ := g.status(t); !strings.HasPrefix(s.Health, "stale") {
						return testkit.ErrNotYet
					}
					return nil
				})
				return g
			},
			health: `^Unhealthy: stale: last success \S+ is older than max age 1s$`,
			good:   `^The last successful run reported nothing \(a job reports what it wrote in GOCRON_RESULT_FILE\)\.$`, rows: 1,
		},
		{
			// Two replicas under the lock: replica-a runs the slot, the page
			// of replica-b says who holds it.
			name: "locked",
			setup: func(t *testing.T) *gocron {
				release := filepath.Join(t.TempDir(), "release")
				lock := []string{"--lock-etcd", strings.Join(lockEtcd.Endpoints(), ","), "--lock-name", "page", "--lock-ttl", "2s"}
				job := []string{"* * * * * *", "--", "sh", "-c", `echo "holding the slot"; while [ ! -e ` + release + ` ]; do sleep 0.05; done`}
				a := start(t, options{}, append(append(lock, "--lock-instance", "replica-a"), job...)...)
				testkit.WaitFor(t, 20*time.Second, "replica-a running", func() error {
					if _, s, _ := a.status(t); len(s.Running) != 1 {
						return testkit.ErrNotYet
					}
					return nil
				})
				b := start(t, options{}, append(append(lock, "--lock-instance", "replica-b"), job...)...)
				testkit.WaitFor(t, 20*time.Second, "replica-b to skip a slot held by replica-a", func() error {
					if _, s, _ := b.status(t); s.Skipped["held"] == 0 {
						return testkit.ErrNotYet
					}
					return nil
				})
				t.Cleanup(func() { os.WriteFile(release, nil, 0o644) })
				return b
			},
			health: `^Healthy: no run has finished yet$`, good: `^None yet`, rows: 0,
			check: func(t *testing.T, s seen, _ *browsertest.Browser, _ *gocron) {
				if !regexp.MustCompile(`The lock is held by replica-a \(slot \S+\): this replica skips its slots\.`).MatchString(s.Running) {
					t.Errorf("now %q", s.Running)
				}
				for _, want := range []string{"Lock", "Holder\nreplica-a", "Instance\nreplica-b", "held by replica-a", "Etcd\nreachable"} {
					if !strings.Contains(s.Lock, want) {
						t.Errorf("lock section lacks %q:\n%s", want, s.Lock)
					}
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.setup(t)
			url := "http://" + g.addr + "/"
			for _, v := range []struct {
				b    *browsertest.Browser
				shot string
			}{{phone, tc.name + "-375px.png"}, {noJS, ""}, {desktop, tc.name + ".png"}} {
				v.b.Open(t, url)
				s := readPage(t, v.b)
				if !regexp.MustCompile(tc.health).MatchString(s.Health) {
					t.Errorf("health line %q, want %s", s.Health, tc.health)
				}
				if !regexp.MustCompile(tc.good).MatchString(s.Good) {
					t.Errorf("last good backup %q, want %s", s.Good, tc.good)
				}
				if s.Rows != tc.rows {
					t.Errorf("%d rows of runs, want %d", s.Rows, tc.rows)
				}
				if s.H1 != 1 || len(s.H2) < 4 || s.H2[0] != "Last good backup" {
					t.Errorf("headings: %d h1, h2 %q", s.H1, s.H2)
				}
				if len(s.Problems) > 0 {
					t.Errorf("accessibility: %s", strings.Join(s.Problems, "; "))
				}
				if s.Overflow > 0 {
					t.Errorf("the page is %d px wider than the window", s.Overflow)
				}
				if v.shot != "" {
					v.b.FullScreenshot(t, filepath.Join(shots, v.shot))
				}
				if tc.check != nil {
					tc.check(t, s, v.b, g)
				}
			}
		})
	}
}
