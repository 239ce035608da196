package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"cronbox/clikit"
	"cronbox/codec"
	"cronbox/etcd-backup/backup"
)

// verifyOptions are verify's flags.
type verifyOptions struct {
	src         sourceFlags
	tmp, format string
}

func (o *verifyOptions) define(fs *clikit.FlagSet) {
	o.src.define(fs)
	fs.String(&o.tmp, "tmp-dir", os.TempDir(), "where the backup is downloaded to read its status", "ETCD_BACKUP_TMPDIR")
	fs.String(&o.format, "write-out", "simple", "simple or json", "ETCD_BACKUP_WRITE_OUT")
	fs.Short('w', "write-out")
}

// run is `etcd-backup verify SRC`.
func (o *verifyOptions) run(ctx context.Context, fs *clikit.FlagSet, pos []string, env Env) error {
	if o.format != "simple" && o.format != "json" {
		return usagef("%s: simple or json", fs.Quote("write-out"))
	}
	src, err := oneSource(pos, "source")
	if err != nil {
		return err
	}
	fe, err := o.src.fetcher(src, env, fs)
	if err != nil {
		return err
	}
	if env.check != nil {
		return env.check.verify(src)
	}
	res, err := fe.Verify(ctx, src, o.tmp)
	if err != nil {
		return err
	}
	reportVerified(env, newLogger(env), res)
	if o.format == "json" {
		printJSON(env.Stdout, res)
		return nil
	}
	printVerify(env.Stdout, res)
	return nil
}

// printVerify is verify's human output: what was checked, then etcdctl's
// status table (with live keys and bolt entries apart, see VerifyResult).
func printVerify(w io.Writer, res backup.VerifyResult) {
	recorded := "none recorded"
	switch {
	case res.Recorded != "":
		recorded = "matches the recorded one"
	case res.Checksum != "":
		recorded = "the object matches its stored " + strings.Fields(res.Checksum)[0]
	}
	stored := codec.Layers{Compression: codec.Compression(res.Compression), Encrypted: res.Encrypted, Recipients: res.Recipients}
	fmt.Fprintf(w, "%s: %d bytes stored, %s; sha256 %s (%s)\n", res.Source, res.StoredSize, describeLayers(stored), res.SHA256, recorded)
	if !res.ContentsChecked {
		fmt.Fprintf(w, "contents NOT checked: encrypted, and no identity given (--identity, ETCD_BACKUP_IDENTITY_FILE, or the passphrase); only the stored bytes' sha256 was checked\n")
		return
	}
	fmt.Fprintf(w, "snapshot trailer sha256 %s ok\n", res.DBSHA256)
	cluster := res.Metadata[backup.MetaCluster]
	switch {
	case res.Metadata == nil:
		cluster = "no metadata (a file or stdin)"
	case cluster == "":
		cluster = "not recorded (saved by an earlier version from an etcd before 3.6)"
	}
	fmt.Fprintf(w, "cluster id: %s\n", cluster)
	fmt.Fprintf(w, "HASH, REVISION, KEYS, BOLT ENTRIES, TOTAL SIZE, VERSION\n%x, %d, %d, %d, %d, %s\n", res.Hash, res.Revision, res.Keys, res.BoltEntries, res.DBSize, res.Version)
}
