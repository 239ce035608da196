package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"cronbox/codec"
	"cronbox/gof3r/s3"
	"cronbox/retention"
)

// PruneOptions is a retention policy: restic-style tiers (the last N, the
// newest backup of each of the last N hours, days, weeks, months, years),
// plus everything younger than KeepWithin, plus always the newest MinKeep
// verified backups. At least one tier or KeepWithin must be set; MinKeep is
// at least 1.
type PruneOptions struct {
	Bucket, Prefix string
	Tiers          retention.Policy
	KeepWithin     time.Duration // keep backups younger than this (0: no age rule)
	MinKeep        int           // always keep at least this many verified backups
	DryRun         bool
	Now            time.Time
}

// Decision is prune's verdict on one backup.
type Decision struct {
	Key         string
	Time        time.Time
	Layers      codec.Layers
	Verified    bool
	Keep        bool
	Why         string    // the reasons it is kept, or why it goes
	LockedUntil time.Time // an S3 object lock's retention date, if any
	Locked      bool      // the lock (retention or legal hold) forbids deleting it now
}

// Validate reports a usage error.
func (o PruneOptions) Validate() error {
	if err := o.Tiers.Check(); err != nil {
		return err
	}
	if o.KeepWithin < 0 {
		return errors.New("--keep-within cannot be negative")
	}
	if o.Tiers.Empty() && o.KeepWithin == 0 {
		return errors.New("give at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within")
	}
	if o.MinKeep < 1 {
		return fmt.Errorf("--min-keep %d: must be at least 1", o.MinKeep)
	}
	return nil
}

// ours says whether key is a backup directly under prefix, named as save
// names them, and its time and layers.
func ours(key, prefix string) (time.Time, codec.Layers, bool) {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || strings.Contains(rest, "/") {
		return time.Time{}, codec.Layers{}, false
	}
	return ParseName(rest)
}

// Plan decides, newest first, which backups stay. Only objects directly
// under the prefix and named as save names them are considered; anything
// else is not ours and never appears in the plan. A backup is verified when
// it carries the metadata save writes only after the trailer checked, and
// its recorded SHA-256 (and, stored as it is, a snapshot's size). A backup
// under an S3 object lock whose retention has not passed (or under a legal
// hold) is kept, whatever the rules say: S3 would refuse the delete, or (on
// a versioned bucket) only hide the object behind a delete marker.
func Plan(objs []Object, o PruneOptions) []Decision {
	var ds []Decision
	for _, ob := range objs {
		t, layers, ok := ours(ob.Key, o.Prefix)
		if !ok {
			continue
		}
		d := Decision{Key: ob.Key, Time: t, Layers: layers, Verified: Verified(ob, layers), LockedUntil: ob.RetainUntil}
		d.Locked = ob.Locked(o.Now)
		ds = append(ds, d)
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].Time.After(ds[j].Time) })
	cs := make([]Candidate, len(ds))
	for i, d := range ds {
		cs[i] = Candidate{Time: d.Time, Verified: d.Verified, Locked: d.Locked, LockedUntil: d.LockedUntil}
	}
	for i, why := range o.Reasons(cs) {
		d := &ds[i]
		d.Keep = len(why) > 0
		if !d.Keep {
			why = []string{"outside the retention policy"}
		}
		d.Why = strings.Join(why, "; ")
	}
	return ds
}

// Verified says whether a full snapshot's object (stated, not listed)
// carries what save writes only after the trailer checked: its format, a
// stored checksum, and, stored as it is, a snapshot's size.
func Verified(ob Object, layers codec.Layers) bool {
	return ob.Metadata[MetaFormat] == FormatV1 && (ob.SHA256 != "" || ob.Checksum != "") && (!layers.Plain() || ob.Size%512 == trailerSize)
}

// Locked says whether an S3 object lock forbids deleting the object at now.
func (ob Object) Locked(now time.Time) bool { return ob.LegalHold || ob.RetainUntil.After(now) }

// Candidate is what the retention rules see of one backup, or of one point
// in time of an incremental chain (cronbox/etcd-backup/incremental).
type Candidate struct {
	Time        time.Time
	Verified    bool
	Locked      bool      // an S3 object lock forbids deleting it now
	LockedUntil time.Time // the lock's retention date (zero: a legal hold)
}

// Reasons applies the policy to candidates sorted newest first: the tiers,
// KeepWithin, the newest MinKeep verified ones, and object locks. It
// returns why each is kept (nil: it is not).
func (o PruneOptions) Reasons(cs []Candidate) [][]string {
	times := make([]time.Time, len(cs))
	for i, c := range cs {
		times[i] = c.Time
	}
	tiers := o.Tiers.Keep(times)
	out := make([][]string, len(cs))
	verifiedKept := 0
	for i, c := range cs {
		why := tiers[i]
		if o.KeepWithin > 0 && o.Now.Sub(c.Time) < o.KeepWithin {
			why = append(why, fmt.Sprintf("younger than %s", o.KeepWithin))
		}
		if len(why) == 0 && c.Verified && verifiedKept < o.MinKeep {
			why = append(why, fmt.Sprintf("--min-keep %d: among the newest verified", o.MinKeep))
		}
		if len(why) == 0 && c.Locked {
			if u := c.LockedUntil; u.After(o.Now) {
				why = append(why, "object lock: kept until "+u.UTC().Format(time.RFC3339))
			} else {
				why = append(why, "object lock: legal hold")
			}
		}
		if len(why) > 0 && c.Verified {
			verifiedKept++
		}
		out[i] = why
	}
	return out
}

// Prune lists the backups under the prefix, plans, and removes what the
// plan drops (unless DryRun). It returns the plan.
func Prune(ctx context.Context, st Store, o PruneOptions) ([]Decision, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	objs, err := st.List(ctx, o.Bucket, o.Prefix)
	if err != nil {
		return nil, fmt.Errorf("S3: %w", err)
	}
	for i, ob := range objs {
		if _, _, ok := ours(ob.Key, o.Prefix); !ok {
			continue
		}
		// Listings carry no user metadata, checksum or lock: ask for them.
		full, err := st.Stat(ctx, o.Bucket, ob.Key)
		if err != nil {
			return nil, fmt.Errorf("S3: %w", err)
		}
		objs[i] = full
	}
	plan := Plan(objs, o)
	if o.DryRun {
		return plan, nil
	}
	for i := range plan {
		d := &plan[i]
		if d.Keep {
			continue
		}
		err := st.Remove(ctx, o.Bucket, d.Key)
		if errors.Is(err, s3.ErrLocked) {
			// A lock the object's HEAD did not show (no permission to read
			// its retention): S3 keeps it, and so does the plan.
			d.Keep, d.Locked, d.Why = true, true, "object lock: S3 refused the delete ("+err.Error()+")"
			continue
		}
		if err != nil {
			return plan, fmt.Errorf("S3: %w", err)
		}
	}
	return plan, nil
}
