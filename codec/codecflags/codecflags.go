// Package codecflags turns the codec's flags, as etcd-backup and gof3r
// spell them, into codec options (what a write stores) and age identities
// (what opens a read):
//
//	--compress zstd|gzip|none   PREFIX_COMPRESS
//	--compress-level N          PREFIX_COMPRESS_LEVEL
//	--encrypt-to age1...        PREFIX_ENCRYPT_TO (several: commas or spaces)
//	--recipients-file FILE      PREFIX_RECIPIENTS_FILE
//	--passphrase-file FILE      PREFIX_PASSPHRASE_FILE, or PREFIX_PASSPHRASE
//	--identity FILE             PREFIX_IDENTITY_FILE, or the key in PREFIX_IDENTITY
//
// Each tool defines the flags in its own flag table; this package reads
// their values. A bad value is a usage error naming the flag or variable it
// came from, and a secret file others may read is a warning in the log.
package codecflags

import (
	"log/slog"
	"strings"

	"filippo.io/age"

	"cronbox/clikit"
	"cronbox/codec"
)

// Values are the flags' values as given, and where they came from.
type Values struct {
	// Prefix names the tool's inline secret variables: Prefix+"_PASSPHRASE"
	// and Prefix+"_IDENTITY" (ETCD_BACKUP, GOF3R).
	Prefix string

	Compress, CompressLevel string
	EncryptTo               []string
	RecipientsFile          string
	PassphraseFile          string
	Identity                string // an identity file

	Flags  *clikit.FlagSet // Origin names a flag's source in messages
	Getenv func(string) string
	Log    *slog.Logger
}

// Options reads how a write stores its stream: compressed, then encrypted
// to recipients or with a passphrase (not both).
func (v Values) Options() (codec.Options, error) {
	var o codec.Options
	var err error
	if o.Compression, err = codec.ParseCompression(v.Compress); err != nil {
		return o, clikit.Usagef("%s: %v", v.Flags.Origin("compress"), err)
	}
	if o.Level, err = codec.ParseLevel(o.Compression, v.CompressLevel); err != nil {
		return o, clikit.Usagef("%s: %v", v.Flags.Origin("compress-level"), err)
	}
	for _, l := range v.EncryptTo {
		rs, err := codec.ParseRecipients(l)
		if err != nil {
			return o, clikit.Usagef("%s: %v", v.Flags.Origin("encrypt-to"), err)
		}
		o.Recipients = append(o.Recipients, rs...)
	}
	if f := v.RecipientsFile; f != "" {
		rs, err := codec.ReadRecipientsFile(f)
		if err != nil {
			return o, clikit.Usagef("%s %s: %v", v.Flags.Origin("recipients-file"), f, err)
		}
		o.Recipients = append(o.Recipients, rs...)
	}
	pass, from, err := v.passphrase()
	if err != nil {
		return o, err
	}
	if pass != "" {
		if len(o.Recipients) > 0 {
			return o, clikit.Usagef("%s and recipients (--encrypt-to, --recipients-file) are both given: age encrypts with a passphrase alone; keep one", from)
		}
		r, _, err := codec.Passphrase(pass)
		if err != nil {
			return o, clikit.Usagef("%s: %v", from, err)
		}
		o.Recipients = []age.Recipient{r}
	}
	if err := o.Check(); err != nil {
		return o, clikit.Usage(err)
	}
	return o, nil
}

// Identities reads what opens an encrypted stream: an identity (inline or
// from a file) and a passphrase. None is fine: a plain stream needs none.
func (v Values) Identities() ([]age.Identity, error) {
	var ids []age.Identity
	inlineName := v.Prefix + "_IDENTITY"
	inline, file, from := v.Getenv(inlineName), v.Identity, v.Flags.Origin("identity")
	switch {
	case inline != "" && file != "":
		return nil, clikit.Usagef("%s and %s are both set: set only one", inlineName, from)
	case inline != "":
		parsed, err := codec.ParseIdentities(inline)
		if err != nil {
			return nil, clikit.Usagef("%s: %v", inlineName, err)
		}
		ids = parsed
	case file != "":
		parsed, warn, err := codec.ReadIdentityFile(file)
		if err != nil {
			return nil, clikit.Usagef("%s %s: %v", from, file, err)
		}
		v.warn("identity file is not private", from, warn)
		ids = parsed
	}
	pass, from, err := v.passphrase()
	if err != nil {
		return nil, err
	}
	if pass != "" {
		_, id, err := codec.Passphrase(pass)
		if err != nil {
			return nil, clikit.Usagef("%s: %v", from, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// passphrase reads PREFIX_PASSPHRASE or the passphrase file, and names
// where it came from.
func (v Values) passphrase() (pass, from string, err error) {
	inlineName := v.Prefix + "_PASSPHRASE"
	inline, file := v.Getenv(inlineName), v.PassphraseFile
	from = v.Flags.Origin("passphrase-file")
	switch {
	case inline != "" && file != "":
		return "", "", clikit.Usagef("%s and %s are both set: set only one", inlineName, from)
	case inline != "":
		return inline, inlineName, nil
	case file == "":
		return "", "", nil
	}
	text, warn, err := codec.ReadSecretFile(file)
	if err != nil {
		return "", "", clikit.Usagef("%s: %v", from, err)
	}
	if strings.TrimRight(text, "\r\n") == "" {
		return "", "", clikit.Usagef("%s %s: the file is empty", from, file)
	}
	v.warn("passphrase file is not private", from, warn)
	return text, from, nil
}

func (v Values) warn(msg, from, warning string) {
	if warning != "" && v.Log != nil {
		v.Log.Warn(msg, "variable", from, "warning", warning)
	}
}
