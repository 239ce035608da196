// Package lock makes go-cron replicas run each scheduled slot of one job
// exactly once between them, through etcd: before a scheduled run an
// instance claims the slot, and after it records the result where every
// replica reads it.
//
// # Keys
//
// Everything lives under /cronbox/go-cron/lock/NAME/ (NAME is --lock-name; an
// etcd role needs read-write on that prefix):
//
//	slot/<scheduled time>  one record per slot, no lease: running, done, lost or skipped
//	current                the slot being run now, no lease
//	holder                 the running instance's id, bound to its lease: the lock itself
//	last                   the last finished run (Exit_status, Stdout, Stderr, ...)
//
// # Claiming a slot
//
// A slot is named by its scheduled instant in UTC, the time the schedule
// computes, never the clock reading at which an instance fired. The claim is
// one transaction: if slot/T and current are both absent, it writes slot/T
// and current ("running on instance X, lease L") and holder (with lease L).
// Otherwise the instance does not run T:
//   - slot/T exists: T was claimed (and maybe finished) elsewhere: "skipped:
//     held by X". Because slot/T has no lease it outlives its holder, so an
//     instance that fires late never reruns a slot.
//   - current and holder exist: another slot is still running on X. The
//     slot is recorded as skipped (create-if-absent, so a late instance skips
//     it too): one run at a time across all replicas, as go-cron does alone.
//   - current exists but holder does not: the instance running it stopped
//     renewing its lease (killed, partitioned) and etcd expired the lease
//     within its TTL. Whoever notices first (a claim or the periodic Refresh)
//     settles it in a transaction guarded by current's revision: slot/T and
//     last become "lost", exit status -1, outcome unknown. A lost slot is
//     never run again.
//
// While the job runs, the lease is renewed every third of its TTL. Finishing
// is one transaction guarded by current still being this claim: slot/T and
// last get the result, current and holder are deleted, records older than
// the retention are pruned; then the lease is revoked.
//
// # Clock skew
//
// No instance's clock takes part in deciding who runs a slot: slot names come
// from the schedule, the claim is an atomic create-if-absent in etcd, and
// lease expiry is timed by the etcd leader. Skew therefore never makes two
// instances run one slot, as long as slot records outlive it: records are
// pruned by scheduled time, Retention (default 1h) behind the newest finished
// slot, so an instance whose clock lags the others by less than Retention
// always finds the record. A lag beyond Retention could rerun a pruned slot;
// keep clocks synchronised (NTP keeps them within milliseconds). Skew does
// move when a slot runs: the instance whose clock is furthest ahead fires
// first and usually wins, so a slot starts up to that lead early.
//
// # Talking to etcd
//
// The lock speaks etcd's v3 API through the JSON gateway that every etcd
// (3.4 to 3.7) serves on its client port, with net/http: linking
// go.etcd.io/etcd/client/v3 (gRPC, protobuf) would double go-cron's binary
// and idle RSS (see etcdhttp.go). Endpoints are tried in order, the one that
// answered last first. TLS and user/password work as with etcdctl. One
// difference: when etcd has auth enabled and checks client certificates, it
// refuses certificates carrying a CommonName on the gateway, so give the lock
// a certificate without one (and a user and password).
//
// # When etcd is unreachable
//
// By default the lock fails closed: Claim returns *Unavailable, nothing runs,
// and State reports the reason so the status port can answer 503. With
// FailOpen, Claim returns an unlocked claim and the job runs here
// regardless, at the risk of running on several replicas.
package lock
