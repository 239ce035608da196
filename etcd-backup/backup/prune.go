package backup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// PruneOptions is a retention policy. At least one of KeepLast and
// KeepWithin must be set; MinKeep is at least 1.
type PruneOptions struct {
	Bucket, Prefix string
	KeepLast       int           // keep the newest N backups (0: no count rule)
	KeepWithin     time.Duration // keep backups younger than this (0: no age rule)
	MinKeep        int           // always keep at least this many verified backups
	DryRun         bool
	Now            time.Time
}

// Decision is prune's verdict on one backup.
type Decision struct {
	Key      string
	Time     time.Time
	Verified bool
	Keep     bool
	Why      string
}

// Validate reports a usage error.
func (o PruneOptions) Validate() error {
	if o.KeepLast < 0 || o.KeepWithin < 0 {
		return errors.New("--keep-last and --keep-within cannot be negative")
	}
	if o.KeepLast == 0 && o.KeepWithin == 0 {
		return errors.New("give --keep-last and/or --keep-within")
	}
	if o.MinKeep < 1 {
		return fmt.Errorf("--min-keep %d: must be at least 1", o.MinKeep)
	}
	return nil
}

// Plan decides, newest first, which backups stay. Only objects directly
// under the prefix and named as save names them are considered; anything
// else is not ours and never appears in the plan. A backup is verified when
// it carries the metadata save writes only after the trailer checked, and
// its recorded SHA-256.
func Plan(objs []Object, o PruneOptions) []Decision {
	var ds []Decision
	for _, ob := range objs {
		rest, ok := strings.CutPrefix(ob.Key, o.Prefix)
		if !ok || strings.Contains(rest, "/") {
			continue
		}
		t, ok := ParseName(rest)
		if !ok {
			continue
		}
		verified := ob.Metadata[MetaFormat] == FormatV1 && (ob.SHA256 != "" || ob.Checksum != "") && ob.Size%512 == trailerSize
		ds = append(ds, Decision{Key: ob.Key, Time: t, Verified: verified})
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Time.After(ds[j].Time) })
	verifiedKept := 0
	for i := range ds {
		d := &ds[i]
		switch {
		case o.KeepLast > 0 && i < o.KeepLast:
			d.Keep, d.Why = true, fmt.Sprintf("among the last %d", o.KeepLast)
		case o.KeepWithin > 0 && o.Now.Sub(d.Time) < o.KeepWithin:
			d.Keep, d.Why = true, fmt.Sprintf("younger than %s", o.KeepWithin)
		case d.Verified && verifiedKept < o.MinKeep:
			d.Keep, d.Why = true, fmt.Sprintf("--min-keep %d verified", o.MinKeep)
		default:
			d.Why = "outside the retention policy"
		}
		if d.Keep && d.Verified {
			verifiedKept++
		}
	}
	return ds
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
		rest := strings.TrimPrefix(ob.Key, o.Prefix)
		if _, ours := ParseName(rest); !ours || strings.Contains(rest, "/") {
			continue
		}
		if ob.Metadata == nil || (ob.SHA256 == "" && ob.Checksum == "") {
			// Listings carry no user metadata: ask for it.
			full, err := st.Stat(ctx, o.Bucket, ob.Key)
			if err != nil {
				return nil, fmt.Errorf("S3: %w", err)
			}
			objs[i] = full
		}
	}
	plan := Plan(objs, o)
	if o.DryRun {
		return plan, nil
	}
	for _, d := range plan {
		if d.Keep {
			continue
		}
		if err := st.Remove(ctx, o.Bucket, d.Key); err != nil {
			return plan, fmt.Errorf("S3: %w", err)
		}
	}
	return plan, nil
}
