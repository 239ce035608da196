package cli

import (
	"fmt"
	"log/slog"
	"strings"

	"filippo.io/age"

	"cronbox/clikit"
	"cronbox/codec"
	"cronbox/codec/codecflags"
)

// listValue is a flag that may be given several times; each value may
// itself be a comma- or space-separated list.
type listValue struct{ vals []string }

func (l *listValue) String() string { return strings.Join(l.vals, ",") }
func (l *listValue) Set(s string) error {
	l.vals = append(l.vals, s)
	return nil
}

// codecFlags say how save and dump store what they write: compressed,
// then encrypted to age recipients or with a passphrase.
type codecFlags struct {
	compress, level, recipientsFile, passphraseFile string
	encryptTo                                       listValue
}

func (c *codecFlags) define(fs *clikit.FlagSet, what string) {
	fs.String(&c.compress, "compress", "none", "compress the "+what+": zstd, gzip or none (a default snapshot restores with stock etcdctl alone)", "ETCD_BACKUP_COMPRESS")
	fs.String(&c.level, "compress-level", "", "compression level: zstd 1-22 (default 3), gzip 1-9 (default 6)", "ETCD_BACKUP_COMPRESS_LEVEL")
	fs.Var(&c.encryptTo, "encrypt-to", "encrypt to this age recipient (age1...; repeat, or a comma list)", "ETCD_BACKUP_ENCRYPT_TO")
	fs.String(&c.recipientsFile, "recipients-file", "", "encrypt to the age recipients in this file (one per line)", "ETCD_BACKUP_RECIPIENTS_FILE")
	fs.String(&c.passphraseFile, "passphrase-file", "", "encrypt with the passphrase in this file (age scrypt; instead of recipients) [or ETCD_BACKUP_PASSPHRASE]", "ETCD_BACKUP_PASSPHRASE_FILE")
}

// options turns the flags into codec options; a bad value is a usage error
// naming the flag or variable it came from.
func (c *codecFlags) options(env Env, f *clikit.FlagSet, log *slog.Logger) (codec.Options, error) {
	return codecflags.Values{
		Prefix: "ETCD_BACKUP", Flags: f, Getenv: env.Getenv, Log: log,
		Compress: c.compress, CompressLevel: c.level, EncryptTo: c.encryptTo.vals,
		RecipientsFile: c.recipientsFile, PassphraseFile: c.passphraseFile,
	}.Options()
}

// keyFlags are what opens an encrypted backup: age identities, or the
// passphrase it was encrypted with.
type keyFlags struct{ identity, passphraseFile string }

func (k *keyFlags) define(fs *clikit.FlagSet) {
	fs.String(&k.identity, "identity", "", "age identity file (AGE-SECRET-KEY-1...) that opens encrypted backups [or the key itself in ETCD_BACKUP_IDENTITY]", "ETCD_BACKUP_IDENTITY_FILE")
	fs.String(&k.passphraseFile, "passphrase-file", "", "the passphrase that opens a backup encrypted with one [or ETCD_BACKUP_PASSPHRASE]", "ETCD_BACKUP_PASSPHRASE_FILE")
}

// identities reads the identities; none is fine (an unencrypted backup
// needs none, and verify without one checks what it can).
func (k *keyFlags) identities(env Env, f *clikit.FlagSet, log *slog.Logger) ([]age.Identity, error) {
	return codecflags.Values{
		Prefix: "ETCD_BACKUP", Flags: f, Getenv: env.Getenv, Log: log,
		Identity: k.identity, PassphraseFile: k.passphraseFile,
	}.Identities()
}

// describeLayers is how a run says what it stored: "zstd, encrypted (age)".
func describeLayers(l codec.Layers) string {
	c := "not compressed"
	if l.Compressed() {
		c = "compressed (" + string(l.Compression) + ")"
	}
	e := "not encrypted"
	if l.Encrypted {
		e = "encrypted (age: " + strings.Join(l.Recipients, ", ") + ")"
	}
	return fmt.Sprintf("%s, %s", c, e)
}
