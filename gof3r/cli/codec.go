package cli

import (
	"fmt"
	"io"
	"strings"

	"cronbox/codec"
	"cronbox/codec/codecflags"
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

// codecValues are the codec's flags as codecflags reads them.
func (j *job) codecValues() codecflags.Values {
	return codecflags.Values{
		Prefix: "GOF3R", Flags: j.o.fs, Getenv: j.getenv, Log: j.log,
		Compress: j.o.compress, CompressLevel: j.o.compressLevel, EncryptTo: j.o.encryptTo,
		RecipientsFile: j.o.recipientsFile, PassphraseFile: j.o.passphraseFile, Identity: j.o.identity,
	}
}

// encode sets up put's compression and encryption.
func (j *job) encode(opts *s3.PutOptions) error {
	co, err := j.codecValues().Options()
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

// decode sets up get's undoing of what the object's metadata says put did.
func (j *job) decode(opts *s3.GetOptions) error {
	ids, err := j.codecValues().Identities()
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
