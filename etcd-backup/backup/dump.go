package backup

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"cronbox/codec"
	"cronbox/etcd-backup/dump"
	"cronbox/etcd-backup/etcdconn"
)

// Dumper writes logical dumps (package dump) of one healthy member to
// stdout, a file or an S3 object, stored as Codec says. Like a snapshot, a
// dump that failed never looks complete: a file keeps its temporary name
// until it is removed, an S3 upload is aborted.
type Dumper struct {
	Conn   etcdconn.Config
	Store  Store // needed for S3 locations only
	Stdout io.Writer
	Codec  codec.Options
}

// Dump writes the keys under prefix ("": every key) to dst.
func (d *Dumper) Dump(ctx context.Context, dst Location, prefix string) (dump.Stats, error) {
	cli, m, err := d.Conn.ConnectHealthy(ctx, nil)
	if err != nil {
		return dump.Stats{}, err
	}
	defer cli.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	write := func(w io.Writer) (dump.Stats, error) {
		cw, err := codec.NewWriter(w, d.Codec)
		if err != nil {
			return dump.Stats{}, err
		}
		st, err := dump.Dump(ctx, cli, prefix, 1000, cw)
		if err != nil {
			return st, fmt.Errorf("etcd %s: %w", m.Endpoint, err)
		}
		return st, cw.Close()
	}
	if dst.Kind == Stdio {
		return write(d.Stdout)
	}
	// A file or an object reads the dump from a pipe that a goroutine
	// writes; that goroutine owns st until wait has returned.
	pr, pw := io.Pipe()
	var st dump.Stats
	done := make(chan error, 1)
	go func() {
		var err error
		st, err = write(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	wait := sync.OnceValue(func() error { return <-done })
	switch dst.Kind {
	case File:
		err = writeFileAtomic(dst.Path, pr, func() (string, error) { return "", wait() })
	case S3:
		if d.Store == nil {
			err = fmt.Errorf("S3 destination but no S3 client")
			break
		}
		layers := d.Codec.Layers()
		meta := map[string]string{MetaFormat: dump.Format}
		for k, v := range layers.Metadata() {
			meta[k] = v
		}
		if _, err = d.Store.Put(ctx, dst.Bucket, dst.Key, pr, PutOptions{Metadata: meta, ContentType: layers.ContentType(ContentTypeDump)}); err != nil {
			err = fmt.Errorf("S3: %w", err)
		}
	}
	if err != nil {
		// Stop the writer (a failed upload may return while it still
		// reads etcd) before waiting for it.
		cancel()
	}
	pr.CloseWithError(err)
	if werr := wait(); err == nil {
		err = werr
	}
	return st, err
}

// OpenDump opens the dump at src for reading, undoing how it is stored
// (package codec). An S3 object is downloaded into dir first, so that the
// S3 client has checked it against its recorded checksum before a byte is
// loaded, and its metadata says which layers to expect; Close removes the
// download.
func (f *Fetcher) OpenDump(ctx context.Context, src Location, dir string) (io.ReadCloser, codec.Layers, error) {
	var r io.Reader
	var expect *codec.Layers
	var cleanup func()
	switch src.Kind {
	case Stdio:
		r = f.Stdin
	case File:
		fh, err := os.Open(src.Path)
		if err != nil {
			return nil, codec.Layers{}, err
		}
		r, cleanup = fh, func() { fh.Close() }
	case S3:
		if f.Store == nil {
			return nil, codec.Layers{}, fmt.Errorf("S3 source but no S3 client")
		}
		fh, err := os.CreateTemp(dir, ".etcd-backup-dump-*.json")
		if err != nil {
			return nil, codec.Layers{}, err
		}
		r, cleanup = fh, func() { fh.Close(); os.Remove(fh.Name()) }
		if expect, err = f.download(ctx, src, fh); err != nil {
			cleanup()
			return nil, codec.Layers{}, err
		}
	}
	dec, err := codec.NewReader(r, codec.ReadOptions{Identities: f.Identities, Expect: expect})
	if err != nil {
		if cleanup != nil {
			cleanup()
		}
		return nil, codec.Layers{}, fmt.Errorf("%s: %w", src, err)
	}
	return &dumpReader{Reader: dec, cleanup: cleanup}, dec.Layers(), nil
}

// download gets the S3 object src into fh and rewinds it; it returns the
// layers the object's metadata records (nil: none recorded).
func (f *Fetcher) download(ctx context.Context, src Location, fh *os.File) (*codec.Layers, error) {
	obj, err := f.Store.Get(ctx, src.Bucket, src.Key, fh)
	if err != nil {
		return nil, fmt.Errorf("S3: %w", err)
	}
	var expect *codec.Layers
	if l, ok, err := codec.FromMetadata(obj.Metadata); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	} else if ok {
		expect = &l
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return expect, nil
}

// dumpReader is an opened dump: Close closes the decoder, then its source.
type dumpReader struct {
	*codec.Reader
	cleanup func()
}

func (d *dumpReader) Close() error {
	err := d.Reader.Close()
	if d.cleanup != nil {
		d.cleanup()
	}
	return err
}
