package cli

import (
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"cronbox/codec"
	"cronbox/gof3r/s3"
)

// The codec's flags (cronbox/codec): put compresses, then encrypts, what it
// uploads and records how in the object's metadata; get undoes exactly what
// the metadata says (an object without it streams as it is stored), and
// --raw streams the stored bytes. Each flag has a variable:
//
//	--compress zstd|gzip|none   GOF3R_COMPRESS
//	--compress-level N          GOF3R_COMPRESS_LEVEL
//	--encrypt-to age1...        GOF3R_ENCRYPT_TO (several: commas or spaces)
//	--recipients-file FILE      GOF3R_RECIPIENTS_FILE
//	--passphrase-file FILE      GOF3R_PASSPHRASE_FILE, or GOF3R_PASSPHRASE
//	--identity FILE             GOF3R_IDENTITY_FILE, or the key in GOF3R_IDENTITY

// value is a flag's value, else its variable's, and where it came from.
func (j *job) value(flag, env string) (string, string) {
	if j.o.set[flag] {
		switch flag {
		case "compress":
			return j.o.compress, "--compress"
		case "compress-level":
			return j.o.compressLevel, "--compress-level"
		case "recipients-file":
			return j.o.recipientsFile, "--recipients-file"
		case "passphrase-file":
			return j.o.passphraseFile, "--passphrase-file"
		case "identity":
			return j.o.identity, "--identity"
		}
	}
	return strings.TrimSpace(j.getenv(env)), env
}

// codecOptions reads how put stores the stream.
func (j *job) codecOptions() (codec.Options, error) {
	var o codec.Options
	v, from := j.value("compress", "GOF3R_COMPRESS")
	var err error
	if o.Compression, err = codec.ParseCompression(v); err != nil {
		return o, usagef("%s: %v", from, err)
	}
	v, from = j.value("compress-level", "GOF3R_COMPRESS_LEVEL")
	if o.Level, err = codec.ParseLevel(o.Compression, v); err != nil {
		return o, usagef("%s: %v", from, err)
	}
	lists, from := j.o.encryptTo, "--encrypt-to"
	if !j.o.set["encrypt-to"] {
		lists, from = []string{j.getenv("GOF3R_ENCRYPT_TO")}, "GOF3R_ENCRYPT_TO"
	}
	for _, l := range lists {
		rs, err := codec.ParseRecipients(l)
		if err != nil {
			return o, usagef("%s: %v", from, err)
		}
		o.Recipients = append(o.Recipients, rs...)
	}
	if f, from := j.value("recipients-file", "GOF3R_RECIPIENTS_FILE"); f != "" {
		rs, err := codec.ReadRecipientsFile(f)
		if err != nil {
			return o, usagef("%s %s: %v", from, f, err)
		}
		o.Recipients = append(o.Recipients, rs...)
	}
	pass, from, err := j.passphrase()
	if err != nil {
		return o, err
	}
	if pass != "" {
		if len(o.Recipients) > 0 {
			return o, usagef("%s and recipients (--encrypt-to, --recipients-file) are both given: age encrypts with a passphrase alone; keep one", from)
		}
		r, _, err := codec.Passphrase(pass)
		if err != nil {
			return o, usagef("%s: %v", from, err)
		}
		o.Recipients = []age.Recipient{r}
	}
	if err := o.Check(); err != nil {
		return o, usageError{err.Error()}
	}
	return o, nil
}

// passphrase reads GOF3R_PASSPHRASE or the passphrase file.
func (j *job) passphrase() (string, string, error) {
	inline := j.getenv("GOF3R_PASSPHRASE")
	file, from := j.value("passphrase-file", "GOF3R_PASSPHRASE_FILE")
	switch {
	case inline != "" && file != "":
		return "", "", usagef("GOF3R_PASSPHRASE and %s are both set: set only one", from)
	case inline != "":
		return inline, "GOF3R_PASSPHRASE", nil
	case file == "":
		return "", "", nil
	}
	text, warn, err := codec.ReadSecretFile(file)
	if err != nil {
		return "", "", usagef("%s: %v", from, err)
	}
	if warn != "" {
		j.log.Warn(warn)
	}
	return text, from, nil
}

// encode sets up put's compression and encryption.
func (j *job) encode(opts *s3.PutOptions) error {
	co, err := j.codecOptions()
	if err != nil {
		return err
	}
	layers := co.Layers()
	if layers.Plain() {
		return nil
	}
	opts.Encode = func(w io.Writer) (io.WriteCloser, error) { return codec.NewWriter(w, co) }
	if opts.Metadata == nil {
		opts.Metadata = map[string]string{}
	}
	for k, v := range layers.Metadata() {
		opts.Metadata[k] = v
	}
	if !j.hasHeader("content-type") {
		opts.ContentType = layers.ContentType("application/octet-stream")
	}
	j.log.Debug("put encodes", "layers", layers.String())
	return nil
}

func (j *job) hasHeader(name string) bool {
	for _, h := range j.o.headers {
		if n, _, _ := strings.Cut(h, ":"); strings.EqualFold(strings.TrimSpace(n), name) {
			return true
		}
	}
	return false
}

// identities reads what opens an encrypted object.
func (j *job) identities() ([]age.Identity, error) {
	var ids []age.Identity
	inline := j.getenv("GOF3R_IDENTITY")
	file, from := j.value("identity", "GOF3R_IDENTITY_FILE")
	switch {
	case inline != "" && file != "":
		return nil, usagef("GOF3R_IDENTITY and %s are both set: set only one", from)
	case inline != "":
		parsed, err := codec.ParseIdentities(inline)
		if err != nil {
			return nil, usagef("GOF3R_IDENTITY: %v", err)
		}
		ids = parsed
	case file != "":
		parsed, warn, err := codec.ReadIdentityFile(file)
		if err != nil {
			return nil, usagef("%s %s: %v", from, file, err)
		}
		if warn != "" {
			j.log.Warn(warn)
		}
		ids = parsed
	}
	pass, from, err := j.passphrase()
	if err != nil {
		return nil, err
	}
	if pass != "" {
		_, id, err := codec.Passphrase(pass)
		if err != nil {
			return nil, usagef("%s: %v", from, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// decode sets up get's undoing of what the object's metadata says put did.
func (j *job) decode(opts *s3.GetOptions) error {
	ids, err := j.identities()
	if err != nil {
		return err
	}
	if j.o.raw {
		return nil
	}
	opts.Decode = func(obj s3.Object, r io.Reader) (io.Reader, error) {
		layers, ok, err := codec.FromMetadata(obj.Metadata)
		if err != nil {
			return nil, fmt.Errorf("%w (--raw gets the stored bytes)", err)
		}
		if !ok || layers.Plain() {
			return r, nil
		}
		d, err := codec.NewReader(r, codec.ReadOptions{Identities: ids, Expect: &layers})
		if err != nil {
			return nil, err
		}
		return &closeAtEOF{d}, nil
	}
	return nil
}

// closeAtEOF releases the decoder's goroutines when the stream ends.
type closeAtEOF struct{ r *codec.Reader }

func (c *closeAtEOF) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil {
		c.r.Close()
	}
	return n, err
}
