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
// snapshot and every delta's end is a point; the policy's period tiers
// (hourly, daily, weekly, monthly, yearly), keep-within, the newest
// --min-keep verified full snapshots and object locks pick the points to
// keep, and every kept point keeps the full snapshot it starts from and
// every delta up to it. --keep-last N keeps every point of the chains of
// the newest N full snapshots: a count of points (one every few seconds)
// would keep minutes, where the image's ETCD_KEEP_LAST=30 meant 30 backups. Everything else under the prefix
// that is a full snapshot or a delta is removed (unless o.DryRun). It
// returns the decisions, newest first.
//
// Full snapshots are few and are stated (verified? locked?); deltas are
// many, and only those about to go are stated, for a lock: a locked delta
// is a kept point, with its chain.
func Prune(ctx context.Context, st backup.Store, o backup.PruneOptions) ([]chain.Decision, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	objs, err := st.List(ctx, o.Bucket, o.Prefix)
	if err != nil {
		return nil, fmt.Errorf("S3: %w", err)
	}
	l := chain.Build(o.Bucket, o.Prefix, objs)
	stated := map[string]backup.Object{} // by name under the prefix
	for i := range l.Fulls {
		f := &l.Fulls[i]
		ob, err := st.Stat(ctx, o.Bucket, f.Key)
		if err != nil {
			return nil, fmt.Errorf("S3: %w", err)
		}
		f.SetMetadata(ob.Metadata)
		stated[f.Name] = ob
	}
	lastFulls := map[*chain.Full]bool{}
	for i := range l.Fulls[:min(len(l.Fulls), o.Tiers.Last)] {
		lastFulls[&l.Fulls[i]] = true
	}
	points := o
	points.Tiers.Last = 0
	rule := func(ps []chain.Point) [][]string {
		cs := make([]backup.Candidate, len(ps))
		for i, p := range ps {
			cs[i].Time = p.Time
			if ob, ok := stated[p.Name]; ok {
				cs[i].Locked, cs[i].LockedUntil = ob.Locked(o.Now), ob.RetainUntil
				if p.IsFull {
					_, layers, _ := backup.ParseName(p.Name)
					cs[i].Verified = backup.Verified(ob, layers)
				}
			}
		}
		why := points.Reasons(cs)
		for i, p := range ps {
			if lastFulls[p.Full] {
				why[i] = append(why[i], fmt.Sprintf("in the chain of one of the last %d full snapshots", o.Tiers.Last))
			}
		}
		return why
	}
	plan := l.Retain(rule)
	relock := false
	for _, d := range plan {
		if d.Keep || d.IsFull {
			continue
		}
		ob, err := st.Stat(ctx, o.Bucket, d.Key)
		if err != nil {
			return nil, fmt.Errorf("S3: %w", err)
		}
		stated[d.Name] = ob
		relock = relock || ob.Locked(o.Now)
	}
	if relock {
		plan = l.Retain(rule)
	}
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
