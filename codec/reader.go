package codec

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/klauspost/compress/zstd"
)

// Errors a reader returns (wrapped, with what was found).
var (
	// ErrNoIdentity: the stream is encrypted and no identity was given.
	ErrNoIdentity = errors.New("encrypted with age, and no identity or passphrase was given")
	// ErrWrongIdentity: no given identity opens the stream.
	ErrWrongIdentity = errors.New("no given identity or passphrase opens it")
	// ErrLayers: the stream is not what its metadata says it is.
	ErrLayers = errors.New("the stored bytes are not what the metadata says")
	// ErrCorrupt: a layer's own integrity check failed (age's
	// authentication, zstd's checksum, gzip's CRC) or the stream ends early.
	ErrCorrupt = errors.New("damaged or truncated")
)

var (
	magicAge      = []byte("age-encryption.org/v1\n")
	magicAgeArmor = []byte("-----BEGIN AGE ENCRYPTED FILE-----")
	magicZstd     = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicGzip     = []byte{0x1f, 0x8b}
)

// sniffed is what the first bytes of a stream say.
type sniffed int

const (
	plain sniffed = iota
	isAge
	isAgeArmor
	isZstd
	isGzip
)

func sniff(br *bufio.Reader) sniffed {
	head, _ := br.Peek(len(magicAgeArmor))
	switch {
	case bytes.HasPrefix(head, magicAge):
		return isAge
	case bytes.HasPrefix(head, magicAgeArmor):
		return isAgeArmor
	case bytes.HasPrefix(head, magicZstd):
		return isZstd
	case bytes.HasPrefix(head, magicGzip):
		return isGzip
	}
	return plain
}

// ReadOptions say how to open a stream.
type ReadOptions struct {
	Identities []age.Identity
	// Expect, when set, is what the stream must be (from its metadata);
	// a stream that is something else is refused with ErrLayers. Unset,
	// the layers are recognised by their magic bytes.
	Expect *Layers
}

// Reader undoes the layers of a stream as it is read.
type Reader struct {
	r      io.Reader
	layers Layers
	zr     *zstd.Decoder
}

// NewReader returns a reader of the original bytes of r. With
// o.Expect unset it recognises the layers by their magic bytes (age, then
// zstd or gzip inside: right for content that cannot start with those,
// such as an etcd snapshot or a JSON dump); with o.Expect set it undoes
// exactly those layers and refuses a stream whose magic bytes disagree. It
// reads the age header at once: a missing or wrong identity fails here.
// Damage found later (age's authentication, zstd's checksum, an early end)
// fails the Read that meets it, wrapping ErrCorrupt.
func NewReader(r io.Reader, o ReadOptions) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	out := &Reader{layers: Layers{Compression: None}}
	var cur io.Reader = br
	s := sniff(br)
	encrypted := s == isAge || s == isAgeArmor
	if o.Expect != nil && o.Expect.Encrypted != encrypted {
		if encrypted {
			return nil, fmt.Errorf("%w: it says not encrypted, the bytes are age-encrypted", ErrLayers)
		}
		return nil, fmt.Errorf("%w: it says age-encrypted, the bytes are not", ErrLayers)
	}
	if encrypted {
		out.layers.Encrypted = true
		var src io.Reader = br
		if s == isAgeArmor {
			src = armor.NewReader(br)
		}
		hbr := bufio.NewReaderSize(src, 64<<10)
		out.layers.Recipients = stanzaKinds(hbr)
		if len(o.Identities) == 0 {
			return nil, fmt.Errorf("%w (it is encrypted to %s)", ErrNoIdentity, describeRecipients(out.layers.Recipients))
		}
		dr, err := age.Decrypt(hbr, o.Identities...)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) {
				return nil, fmt.Errorf("%w (it is encrypted to %s)", ErrWrongIdentity, describeRecipients(out.layers.Recipients))
			}
			return nil, fmt.Errorf("age: %w: %w", ErrCorrupt, err)
		}
		br = bufio.NewReaderSize(&layerErr{r: dr, layer: "age"}, 64<<10)
		cur = br
	}
	comp := None
	switch sniff(br) {
	case isZstd:
		comp = Zstd
	case isGzip:
		comp = Gzip
	}
	if o.Expect != nil {
		want := o.Expect.Compression
		if want == "" {
			want = None
		}
		if want != None && want != comp {
			return nil, fmt.Errorf("%w: it says %s, the bytes are not %s", ErrLayers, o.Expect, want)
		}
		comp = want // content that merely starts like gzip stays as it is
	}
	out.layers.Compression = comp
	switch comp {
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderLowmem(true), zstd.WithDecoderConcurrency(2))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		out.zr = zr
		cur = &layerErr{r: zr, layer: "zstd"}
	case Gzip:
		gr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w: %w", ErrCorrupt, err)
		}
		cur = &layerErr{r: gr, layer: "gzip"}
	}
	out.r = cur
	return out, nil
}

// Layers is what NewReader found.
func (r *Reader) Layers() Layers { return r.layers }

func (r *Reader) Read(p []byte) (int, error) { return r.r.Read(p) }

// Close releases the decompressor's goroutines; it does not close the source.
func (r *Reader) Close() error {
	if r.zr != nil {
		r.zr.Close()
		r.zr = nil
	}
	return nil
}

// layerErr names the layer whose check failed, and marks an early end as damage.
type layerErr struct {
	r     io.Reader
	layer string
}

func (l *layerErr) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w: %w", l.layer, ErrCorrupt, err)
	}
	return n, err
}

// stanzaKinds reads the recipient kinds from an age header ("-> X25519 ...")
// without consuming it.
func stanzaKinds(br *bufio.Reader) []string {
	head, _ := br.Peek(br.Size())
	var kinds []string
	for _, line := range strings.Split(string(head), "\n")[1:] {
		if strings.HasPrefix(line, "---") {
			break
		}
		if rest, ok := strings.CutPrefix(line, "-> "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				kinds = appendUnique(kinds, f[0])
			}
		}
	}
	return kinds
}

func describeRecipients(kinds []string) string {
	if len(kinds) == 0 {
		return "unknown recipients"
	}
	var d []string
	for _, k := range kinds {
		switch k {
		case "X25519":
			d = append(d, "X25519 keys (age1...): give the identity file")
		case "scrypt":
			d = append(d, "a passphrase: give the passphrase")
		default:
			d = append(d, k+" recipients")
		}
	}
	return strings.Join(d, "; ")
}

// Inspect reads only as far as needed to say what r's layers are, without
// decrypting: the age header's recipient kinds, or the compression magic of
// an unencrypted stream. (What is inside an encrypted stream cannot be seen.)
func Inspect(r io.Reader) Layers {
	br := bufio.NewReaderSize(r, 64<<10)
	l := Layers{Compression: None}
	switch sniff(br) {
	case isAge:
		l.Encrypted = true
		l.Recipients = stanzaKinds(br)
	case isAgeArmor:
		l.Encrypted = true
		l.Recipients = stanzaKinds(bufio.NewReaderSize(armor.NewReader(br), 64<<10))
	case isZstd:
		l.Compression = Zstd
	case isGzip:
		l.Compression = Gzip
	}
	return l
}
