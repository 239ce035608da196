package cli

import (
	"fmt"
	"log/slog"
	"strings"

	"filippo.io/age"

	"cronbox/codec"
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

func (c *codecFlags) define(f *flags, what string) {
	f.str(&c.compress, "compress", "none", "compress the "+what+": zstd, gzip or none (a default snapshot restores with stock etcdctl alone)", "ETCD_BACKUP_COMPRESS")
	f.str(&c.level, "compress-level", "", "compression level: zstd 1-22 (default 3), gzip 1-9 (default 6)", "ETCD_BACKUP_COMPRESS_LEVEL")
	f.fs.Var(&c.encryptTo, "encrypt-to", "encrypt to this age recipient (age1...; repeat, or a comma list) [ETCD_BACKUP_ENCRYPT_TO]")
	f.vars = append(f.vars, envVar{"encrypt-to", []string{"ETCD_BACKUP_ENCRYPT_TO"}})
	f.str(&c.recipientsFile, "recipients-file", "", "encrypt to the age recipients in this file (one per line)", "ETCD_BACKUP_RECIPIENTS_FILE")
	f.str(&c.passphraseFile, "passphrase-file", "", "encrypt with the passphrase in this file (age scrypt; instead of recipients) [or ETCD_BACKUP_PASSPHRASE]", "ETCD_BACKUP_PASSPHRASE_FILE")
}

// options turns the flags into codec options; a bad value is a usage error
// naming the flag or variable it came from.
func (c *codecFlags) options(env Env, f *flags, log *slog.Logger) (codec.Options, error) {
	var o codec.Options
	var err error
	if o.Compression, err = codec.ParseCompression(c.compress); err != nil {
		return o, usagef("%s: %v", f.origin("compress"), err)
	}
	if o.Level, err = codec.ParseLevel(o.Compression, c.level); err != nil {
		return o, usagef("%s: %v", f.origin("compress-level"), err)
	}
	for _, v := range c.encryptTo.vals {
		rs, err := codec.ParseRecipients(v)
		if err != nil {
			return o, usagef("%s: %v", f.origin("encrypt-to"), err)
		}
		o.Recipients = append(o.Recipients, rs...)
	}
	if c.recipientsFile != "" {
		rs, err := codec.ReadRecipientsFile(c.recipientsFile)
		if err != nil {
			return o, usagef("%s %s: %v", f.origin("recipients-file"), c.recipientsFile, err)
		}
		o.Recipients = append(o.Recipients, rs...)
	}
	pass, origin, err := c.passphrase(env, f, log)
	if err != nil {
		return o, err
	}
	if pass != "" {
		if len(o.Recipients) > 0 {
			return o, usagef("%s and recipients (--encrypt-to, --recipients-file) are both given: age encrypts with a passphrase alone; keep one", origin)
		}
		r, _, err := codec.Passphrase(pass)
		if err != nil {
			return o, usagef("%s: %v", origin, err)
		}
		o.Recipients = []age.Recipient{r}
	}
	if err := o.Check(); err != nil {
		return o, usageError{err}
	}
	return o, nil
}

// passphrase reads ETCD_BACKUP_PASSPHRASE or the passphrase file, and names
// where it came from.
func (c *codecFlags) passphrase(env Env, f *flags, log *slog.Logger) (string, string, error) {
	return readPassphrase(env, f, c.passphraseFile, log)
}

func readPassphrase(env Env, f *flags, file string, log *slog.Logger) (string, string, error) {
	inline := env.Getenv("ETCD_BACKUP_PASSPHRASE")
	switch {
	case inline != "" && file != "":
		return "", "", usagef("ETCD_BACKUP_PASSPHRASE and %s are both set: set only one", f.origin("passphrase-file"))
	case inline != "":
		return inline, "ETCD_BACKUP_PASSPHRASE", nil
	case file == "":
		return "", "", nil
	}
	text, warn, err := codec.ReadSecretFile(file)
	if err != nil {
		return "", "", usagef("%s: %v", f.origin("passphrase-file"), err)
	}
	if warn != "" {
		log.Warn("passphrase file is not private", "variable", f.origin("passphrase-file"), "warning", warn)
	}
	if strings.TrimRight(text, "\r\n") == "" {
		return "", "", usagef("%s %s: the file is empty", f.origin("passphrase-file"), file)
	}
	return text, f.origin("passphrase-file"), nil
}

// keyFlags are what opens an encrypted backup: age identities, or the
// passphrase it was encrypted with.
type keyFlags struct{ identity, passphraseFile string }

func (k *keyFlags) define(f *flags) {
	f.str(&k.identity, "identity", "", "age identity file (AGE-SECRET-KEY-1...) that opens encrypted backups [or the key itself in ETCD_BACKUP_IDENTITY]", "ETCD_BACKUP_IDENTITY_FILE")
	f.str(&k.passphraseFile, "passphrase-file", "", "the passphrase that opens a backup encrypted with one [or ETCD_BACKUP_PASSPHRASE]", "ETCD_BACKUP_PASSPHRASE_FILE")
}

// identities reads the identities; none is fine (an unencrypted backup
// needs none, and verify without one checks what it can).
func (k *keyFlags) identities(env Env, f *flags, log *slog.Logger) ([]age.Identity, error) {
	var ids []age.Identity
	inline := env.Getenv("ETCD_BACKUP_IDENTITY")
	switch {
	case inline != "" && k.identity != "":
		return nil, usagef("ETCD_BACKUP_IDENTITY and %s are both set: set only one", f.origin("identity"))
	case inline != "":
		parsed, err := codec.ParseIdentities(inline)
		if err != nil {
			return nil, usagef("ETCD_BACKUP_IDENTITY: %v", err)
		}
		ids = parsed
	case k.identity != "":
		parsed, warn, err := codec.ReadIdentityFile(k.identity)
		if err != nil {
			return nil, usagef("%s %s: %v", f.origin("identity"), k.identity, err)
		}
		if warn != "" {
			log.Warn("identity file is not private", "variable", f.origin("identity"), "warning", warn)
		}
		ids = parsed
	}
	pass, origin, err := readPassphrase(env, f, k.passphraseFile, log)
	if err != nil {
		return nil, err
	}
	if pass != "" {
		_, id, err := codec.Passphrase(pass)
		if err != nil {
			return nil, usagef("%s: %v", origin, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
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
