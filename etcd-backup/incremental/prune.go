package incremental

import (
	"context"
	"fmt"
	"strings"

	"cronbox/etcd-backup/backup"
	"cronbox/etcd-backup/chain"
)

// HasDeltas reports whether the prefix holds deltas (then prune must plan
// by chains: a full snapshot may be the base of a kept delta).
func HasDeltas(ctx context.Context, st backup.Store, bucket, prefix string) (bool, error) {
	objs, err := st.List(ctx, bucket, prefix+chain.DeltaDir)
	if err != nil {
		return false, fmt.Errorf("S3: %w", err)
	}
	for _, o := range objs {
		if _, ok := chain.ParseDelta(strings.TrimPrefix(o.Key, prefix)); ok {
			return true, nil
		}
	}
	return false, nil
}

// Prune applies the retention policy to points in time: every full
// snapshot and every delta's end is a point; the policy's rules pick the
// points to keep (--keep-last counts points, --keep-within keeps the
// younger ones, --min-keep the newest verified full snapshots), and every
// kept point keeps the full snapshot it starts from and every delta up to
// it. Everything else under the prefix that is a full snapshot or a delta
// is removed (unless o.DryRun). It returns the decisions, newest first.
func Prune(ctx context.Context, st backup.Store, o backup.PruneOptions) ([]chain.Decision, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	objs, err := st.List(ctx, o.Bucket, o.Prefix)
	if err != nil {
		return nil, fmt.Errorf("S3: %w", err)
	}
	l := chain.Build(o.Bucket, o.Prefix, objs)
	verified := map[string]bool{}
	for i := range l.Fulls {
		f := &l.Fulls[i]
		// Listings carry no user metadata: ask for it.
		ob, err := st.Stat(ctx, o.Bucket, f.Key)
		if err != nil {
			return nil, fmt.Errorf("S3: %w", err)
		}
		f.SetMetadata(ob.Metadata)
		verified[f.Name] = ob.Metadata[backup.MetaFormat] == backup.FormatV1 && ob.SHA256 != ""
	}
	plan := l.Retain(pointRule(o, verified))
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

// pointRule is the policy's rules applied to points in time.
func pointRule(o backup.PruneOptions, verified map[string]bool) chain.Rule {
	return func(ps []chain.Point) [][]string {
		why := make([][]string, len(ps))
		kept := 0
		for i, p := range ps {
			if o.KeepLast > 0 && i < o.KeepLast {
				why[i] = append(why[i], fmt.Sprintf("among the last %d points in time", o.KeepLast))
			}
			if o.KeepWithin > 0 && o.Now.Sub(p.Time) < o.KeepWithin {
				why[i] = append(why[i], fmt.Sprintf("younger than %s", o.KeepWithin))
			}
			if p.IsFull && verified[p.Name] {
				if len(why[i]) == 0 && kept < o.MinKeep {
					why[i] = append(why[i], fmt.Sprintf("--min-keep %d verified", o.MinKeep))
				}
				if len(why[i]) > 0 {
					kept++
				}
			}
		}
		return why
	}
}
