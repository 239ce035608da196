package backup

import (
	"strings"
	"testing"
	"time"

	"cronbox/codec"
	"cronbox/retention"
)

func TestPlan(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	obj := func(hoursAgo int, verified bool) Object {
		o := Object{Key: "bk/" + BackupName(now.Add(-time.Duration(hoursAgo)*time.Hour), codec.Layers{}), Size: 512*8 + 32, SHA256: "ab"}
		if verified {
			o.Metadata = map[string]string{MetaFormat: FormatV1}
		}
		return o
	}
	locked := func(o Object, until time.Time) Object { o.LockMode, o.RetainUntil = "COMPLIANCE", until; return o }
	hold := func(o Object) Object { o.LegalHold = true; return o }
	layered := func(o Object) Object { o.Key += ".zst.age"; o.Size = 1000; return o }
	foreign := []Object{
		{Key: "bk/notes.txt", Size: 10},
		{Key: "bk/sub/" + BackupName(now.Add(-100*time.Hour), codec.Layers{}), Size: 544, Metadata: map[string]string{MetaFormat: FormatV1}, SHA256: "ab"},
		{Key: "other/" + BackupName(now.Add(-100*time.Hour), codec.Layers{}), Size: 544, Metadata: map[string]string{MetaFormat: FormatV1}, SHA256: "ab"},
	}
	for _, tc := range []struct {
		name string
		objs []Object
		opt  PruneOptions
		keep string // one letter per backup, newest first: K kept, D deleted
	}{
		{"keep last 2", []Object{obj(1, true), obj(2, true), obj(3, true), obj(4, true)}, PruneOptions{Tiers: retention.Policy{Last: 2}, MinKeep: 1}, "KKDD"},
		{"keep within 150m", []Object{obj(1, true), obj(2, true), obj(3, true)}, PruneOptions{KeepWithin: 150 * time.Minute, MinKeep: 1}, "KKD"},
		{"union of rules", []Object{obj(1, true), obj(2, true), obj(3, true), obj(4, true)}, PruneOptions{Tiers: retention.Policy{Last: 1}, KeepWithin: 150 * time.Minute, MinKeep: 1}, "KKDD"},
		{"min-keep beats an age rule that keeps nothing", []Object{obj(10, true), obj(20, true), obj(30, true)}, PruneOptions{KeepWithin: time.Hour, MinKeep: 2}, "KKD"},
		{"unverified newest do not count", []Object{obj(1, false), obj(2, false), obj(3, true), obj(4, true)}, PruneOptions{Tiers: retention.Policy{Last: 1}, MinKeep: 1}, "KDKD"},
		{"no verified at all: rules only", []Object{obj(1, false), obj(2, false)}, PruneOptions{Tiers: retention.Policy{Last: 1}, MinKeep: 1}, "KD"},
		{"daily 2: the newest of each of the last two days", []Object{obj(1, true), obj(5, true), obj(13, true), obj(30, true), obj(40, true)}, PruneOptions{Tiers: retention.Policy{Daily: 2}, MinKeep: 1}, "KDKDD"},
		{"a lock keeps what the rules drop", []Object{obj(1, true), locked(obj(2, true), now.Add(time.Hour)), locked(obj(3, true), now.Add(-time.Hour)), hold(obj(4, true))}, PruneOptions{Tiers: retention.Policy{Last: 1}, MinKeep: 1}, "KKDK"},
		{"compressed and encrypted backups count as verified without the snapshot size rule", []Object{layered(obj(1, true)), layered(obj(2, true)), layered(obj(3, true))}, PruneOptions{KeepWithin: time.Minute, MinKeep: 2}, "KKD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Prefix, tc.opt.Now = "bk/", now
			if err := tc.opt.Validate(); err != nil {
				t.Fatal(err)
			}
			plan := Plan(append(append([]Object{}, tc.objs...), foreign...), tc.opt)
			var got strings.Builder
			for _, d := range plan {
				if strings.Contains(d.Key, "sub/") || !strings.HasPrefix(d.Key, "bk/") || strings.HasSuffix(d.Key, ".txt") {
					t.Fatalf("plan touches a foreign object %s", d.Key)
				}
				if d.Keep {
					got.WriteByte('K')
				} else {
					got.WriteByte('D')
				}
			}
			if got.String() != tc.keep {
				t.Fatalf("plan %s, want %s: %+v", got.String(), tc.keep, plan)
			}
		})
	}
}

func TestPruneOptionsValidate(t *testing.T) {
	for _, o := range []PruneOptions{{Tiers: retention.Policy{Last: 1}, MinKeep: 0}, {MinKeep: 1}, {Tiers: retention.Policy{Last: -2}, MinKeep: 1}, {KeepWithin: -time.Hour, MinKeep: 1}} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	for _, o := range []PruneOptions{{Tiers: retention.Policy{Daily: -1}, MinKeep: 1}, {KeepWithin: time.Hour, MinKeep: 1}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestParseLocation(t *testing.T) {
	now := time.Date(2026, 11, 27, 3, 4, 5, 6e6, time.UTC)
	name := BackupName(now, codec.Layers{Compression: codec.Zstd, Encrypted: true})
	for _, tc := range []struct {
		arg, want string
		save, bad bool
	}{
		{"-", "-", true, false},
		{"/tmp/x.db", "/tmp/x.db", true, false},
		{"s3://b/k.db", "s3://b/k.db", false, false},
		{"s3://b/pre/", "s3://b/pre/20261127T030405.006Z.db.zst.age", true, false},
		{"s3://b", "s3://b/20261127T030405.006Z.db.zst.age", true, false},
		{"s3://b/pre/", "", false, true},
		{"s3://b/a//", "", true, true},
		{"s3://b/a\\b/", "", true, true},
		{"s3:///k", "", true, true},
		{"http://x/y", "", true, true},
		{"", "", true, true},
	} {
		n := ""
		if tc.save {
			n = name
		}
		l, err := ParseLocation(tc.arg, n)
		if (err != nil) != tc.bad || err == nil && l.String() != tc.want {
			t.Errorf("ParseLocation(%q, %v) = %v, %v; want %q", tc.arg, tc.save, l, err, tc.want)
		}
	}
	if ts, l, ok := ParseName(name); !ok || !ts.Equal(now) || l.String() != "zstd+age" {
		t.Errorf("ParseName(BackupName) = %v %s %v", ts, l, ok)
	}
	for name, ok := range map[string]bool{
		"20261127T030405Z.db":             true, // the job script's names
		"etcd-20261127T030405.006Z.db":    true, // earlier versions' names
		"20261127T030405.006Z.db.gz":      true,
		"20261127T030405.006Z.db.age":     true,
		"20261127T030405.006Z.db.zst.age": true,
		"20261127T030405Z.db.sha256":      false,
		"20261127T030405Z.db.age.zst":     false, // encrypted, then compressed: not ours
		"etcd-latest.db":                  false,
		"2026-11-27T03:04:05Z.db":         false,
		"backups20261127T030405.006Z.db":  false,
	} {
		if _, _, got := ParseName(name); got != ok {
			t.Errorf("ParseName(%q) = %v, want %v", name, got, ok)
		}
	}
	for in, want := range map[string]string{"": "", "/": "", "backups": "backups/", "/etcd/": "etcd/", "a/b": "a/b/"} {
		if got := NormalizePrefix(in); got != want {
			t.Errorf("NormalizePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
