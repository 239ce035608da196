package s3_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cronbox/gof3r/s3"
	"cronbox/testkit"
)

func TestPutFileGoesStraightToKey(t *testing.T) {
	srv := testkit.Versitygw(t)
	c := newClient(t, srv)
	b := srv.Bucket(t, "files")
	data := randomBytes(3*part+77, 3)
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	if _, err := c.Put(ctx, b, "f", f, s3.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := c.Get(ctx, b, "f", &got); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("get: %v (%d bytes, want %d)", err, got.Len(), len(data))
	}
	if objs, _ := c.List(ctx, b, ""); len(objs) != 1 {
		t.Fatalf("list: %+v, want only f", objs)
	}
}

// changingFile reports a new modification time after its first Stat, as a
// file being rewritten during the upload would.
type changingFile struct {
	*os.File
	stats int
}

func (f *changingFile) Stat() (os.FileInfo, error) {
	f.stats++
	st, err := f.File.Stat()
	if err != nil || f.stats == 1 {
		return st, err
	}
	return touched{st}, nil
}

type touched struct{ os.FileInfo }

func (t touched) ModTime() time.Time { return t.FileInfo.ModTime().Add(time.Second) }

func TestPutFileChangedMeanwhileIsRefused(t *testing.T) {
	srv := testkit.Versitygw(t)
	c := newClient(t, srv)
	b := srv.Bucket(t, "changing")
	path := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(path, randomBytes(2*part+1, 4), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = c.Put(context.Background(), b, "f", &changingFile{File: f}, s3.PutOptions{})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("changed")) {
		t.Fatalf("put of a changing file: %v, want a refusal", err)
	}
	assertNothing(t, c, b)
}

func TestPartSizeGrowsToFitTenThousandParts(t *testing.T) {
	var total int64
	for n := 1; n <= 10000; n++ {
		total += s3.StreamPartSize(5<<20, n)
	}
	if total < 4<<40 {
		t.Fatalf("10,000 parts from 5 MiB hold %d bytes, want at least 4 TiB", total)
	}
	if s3.StreamPartSize(5<<20, 1000) != 5<<20 || s3.StreamPartSize(5<<20, 1001) != 10<<20 || s3.StreamPartSize(5<<20, 10000) > 5<<30 {
		t.Fatal("part size schedule is off")
	}
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte("from-file\n"), 0o600)
	creds := filepath.Join(dir, "credentials")
	os.WriteFile(creds, []byte("[default]\naws_access_key_id = AKDEF\naws_secret_access_key = SKDEF\n[profile backup]\naws_access_key_id=AKB\naws_secret_access_key=SKB\n"), 0o600)
	for _, tc := range []struct {
		name      string
		env       map[string]string
		ak, sk    string
		region    string
		endpoint  string
		errSubstr string
	}{
		{name: "plain", env: map[string]string{"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S", "AWS_S3_REGION": "eu-west-1", "AWS_S3_ENDPOINT": "http://127.0.0.1:9000"}, ak: "A", sk: "S", region: "eu-west-1", endpoint: "http://127.0.0.1:9000"},
		{name: "file variant", env: map[string]string{"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY_FILE": secretFile}, ak: "A", sk: "from-file"},
		{name: "both set", env: map[string]string{"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S", "AWS_SECRET_ACCESS_KEY_FILE": secretFile}, errSubstr: "AWS_SECRET_ACCESS_KEY and AWS_SECRET_ACCESS_KEY_FILE"},
		{name: "missing file", env: map[string]string{"AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY_FILE": filepath.Join(dir, "nope")}, errSubstr: "AWS_SECRET_ACCESS_KEY_FILE"},
		{name: "half keys", env: map[string]string{"AWS_ACCESS_KEY_ID": "A"}, errSubstr: "AWS_SECRET_ACCESS_KEY"},
		{name: "shared default", env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": creds}, ak: "AKDEF", sk: "SKDEF"},
		{name: "shared profile", env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_PROFILE": "backup"}, ak: "AKB", sk: "SKB"},
		{name: "missing profile", env: map[string]string{"AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_PROFILE": "nope"}, errSubstr: "AWS_PROFILE"},
		{name: "bad endpoint", env: map[string]string{"AWS_S3_ENDPOINT": "ftp://x"}, errSubstr: "AWS_S3_ENDPOINT"},
		{name: "bad region", env: map[string]string{"AWS_REGION": "eu west"}, errSubstr: "AWS_REGION"},
		{name: "bad addressing", env: map[string]string{"AWS_S3_ADDRESSING": "sideways"}, errSubstr: "AWS_S3_ADDRESSING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": dir} // no ~/.aws there
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, err := s3.ConfigFromEnv(func(k string) string { return env[k] })
			if tc.errSubstr != "" {
				if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.errSubstr)) {
					t.Fatalf("err %v, want one naming %s", err, tc.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AccessKey != tc.ak || cfg.SecretKey != tc.sk || cfg.Region != tc.region || cfg.Endpoint != tc.endpoint {
				t.Fatalf("got %q %q %q %q", cfg.AccessKey, cfg.SecretKey, cfg.Region, cfg.Endpoint)
			}
		})
	}
}

// Endpoints that are not the test server's still build a client: any
// region, AWS host names with a region in them, URLs with a scheme.
func TestNewAcceptsEndpointsAndRegions(t *testing.T) {
	for _, ep := range []string{"", "s3-eu-west-1.amazonaws.com", "http://127.0.0.1:7070", "minio.example:9000", "https://r2.example"} {
		for _, region := range []string{"", "us-east-1", "auto", "garage"} {
			if _, err := s3.New(s3.Config{Endpoint: ep, Region: region}); err != nil {
				t.Errorf("endpoint %q region %q: %v", ep, region, err)
			}
		}
	}
	if _, err := s3.New(s3.Config{Endpoint: "http://host/path"}); err == nil {
		t.Error("an endpoint with a path was accepted")
	}
}
