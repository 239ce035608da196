package schedule

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// croniterScript prints, for each case on stdin, croniter's next fire times
// (UTC, RFC 3339) or its error.
const croniterScript = `
import json, sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo
from croniter import croniter
out = []
for c in json.load(sys.stdin):
    try:
        it = croniter(c["spec"], datetime.fromisoformat(c["base"]).astimezone(ZoneInfo(c["zone"])))
        out.append({"next": [it.get_next(datetime).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ") for _ in range(c["n"])]})
    except Exception as e:
        out.append({"error": str(e)})
json.dump(out, sys.stdout)
`

// croniterPython is the venv .ci/deps makes for croniter.
func croniterPython(t *testing.T) string {
	t.Helper()
	venv := os.Getenv("CRONBOX_CRONITER_VENV")
	if venv == "" {
		home, _ := os.UserHomeDir()
		venv = filepath.Join(home, ".cache", "cronbox", "croniter-venv")
	}
	py := filepath.Join(venv, "bin", "python")
	if err := exec.Command(py, "-c", "import croniter").Run(); err != nil {
		t.Fatalf("croniter is not installed in %s (%v): run `make deps` first", venv, err)
	}
	return py
}

type croniterCase struct {
	Zone string `json:"zone"`
	Base string `json:"base"`
	Spec string `json:"spec"`
	N    int    `json:"n"`
}

// Five-field schedules read the standard way fire when croniter says, from
// several instants and in zones with daylight saving, except where croniter
// and cronie differ at a daylight-saving change and go-cron follows cronie
// (TestDaylightSaving): in a repeated hour croniter runs a fixed-time job
// twice (cronie once), and after a skipped hour it makes up a wildcard
// job's skipped slot too (cronie only a fixed-time job's).
func TestAgainstCroniter(t *testing.T) {
	py := croniterPython(t)
	specs := []string{
		"* * * * *", "*/5 * * * *", "0 * * * *", "30 2 * * *", "0 0 * * *", "15 10 * * 1-5",
		"0 0 1 * *", "0 0 * * 0", "0 0 * * 7", "0 0 * * 5-7", "0 0 * * 1-7/2", "0 0 ? * *",
		"0 12 * * MON", "0 0 1 JAN *", "*/15 9-17 * * MON-FRI", "0 0 29 2 *", "0 0 31 * *",
		"0 0 1,15 * 1", "0 0 13 * 5", "5,35 */2 * * *", "0 3 * * 6,0", "0 0 1 */3 *",
		"59 23 31 12 *", "0 2 * * *", "30 1 * * *", "0 1-3 * * *", "*/20 2 * * *", "0 */6 * * *",
	}
	bases := []struct{ zone, base string }{
		{"UTC", "2026-11-27T13:36:25+00:00"},
		{"UTC", "2028-02-27T23:59:59+00:00"}, // a leap day ahead
		{"Europe/Berlin", "2026-03-28T20:00:00+01:00"},
		{"Europe/Berlin", "2026-10-24T20:00:00+02:00"},
		{"America/New_York", "2026-03-07T20:00:00-05:00"},
		{"America/New_York", "2026-10-31T20:00:00-04:00"},
	}
	var cases []croniterCase
	for _, b := range bases {
		for _, s := range specs {
			cases = append(cases, croniterCase{Zone: b.zone, Base: b.base, Spec: s, N: 12})
		}
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(py, "-c", croniterScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("croniter: %v: %s", err, &stderr)
	}
	var answers []struct {
		Next  []string `json:"next"`
		Error string   `json:"error"`
	}
	if err := json.Unmarshal(out, &answers); err != nil || len(answers) != len(cases) {
		t.Fatalf("croniter's answer: %v (%d answers for %d cases)", err, len(answers), len(cases))
	}
	compared := 0
	for i, c := range cases {
		a := answers[i]
		if a.Error != "" {
			t.Errorf("croniter refused %q: %s", c.Spec, a.Error)
			continue
		}
		loc, _ := time.LoadLocation(c.Zone)
		s, err := ParseWith(c.Spec, Options{Location: loc})
		if err != nil {
			t.Errorf("%q: %v", c.Spec, err)
			continue
		}
		base, _ := time.Parse(time.RFC3339, c.Base)
		want := likeCronie(s, a.Next, loc)
		got := NextN(s, base, len(want))
		for j := range want {
			if !got[j].Equal(utc(want[j])) {
				t.Errorf("%s from %s, %q fire %d: %s, croniter %s", c.Zone, c.Base, c.Spec, j, got[j].UTC().Format(time.RFC3339), want[j])
				break
			}
		}
		compared++
	}
	t.Logf("%d cases, 12 fire times each, compared with croniter", compared)
}

// likeCronie drops from croniter's fire times those cronie would not run:
// a fixed-time job's second run at a wall-clock time an offset change
// repeats, and a wildcard job's make-up run at the instant of a change that
// skipped its slot.
func likeCronie(s *Schedule, next []string, loc *time.Location) []string {
	w, ok := s.Expression.(*wallClock)
	if !ok {
		return next
	}
	var out []string
	seen := map[string]bool{}
	for _, n := range next {
		at := utc(n)
		wallClock := at.In(loc).Format("2006-01-02T15:04:05")
		if w.fixed && seen[wallClock] {
			continue
		}
		seen[wallClock] = true
		if !w.fixed {
			start, _ := at.In(loc).ZoneBounds()
			off := offsetAt(at, loc)
			if start.Equal(at) && offsetAt(at.Add(-time.Nanosecond), loc) < off {
				if wl := wall(at, off); !w.spec.Next(wl.Add(-time.Nanosecond)).Equal(wl) {
					continue
				}
			}
		}
		out = append(out, n)
	}
	return out
}
