package s3

import "testing"

func TestRegionFromEndpoint(t *testing.T) {
	for ep, want := range map[string]string{
		"s3-eu-west-1.amazonaws.com":         "eu-west-1", // the original image's default
		"s3.eu-central-1.amazonaws.com":      "eu-central-1",
		"https://s3.us-west-2.amazonaws.com": "us-west-2",
		"s3.amazonaws.com":                   "",
		// AWS's other endpoint forms (issue 13.2: the entrypoint guessed
		// us-east-1 for the first two and refused the third).
		"s3.cn-north-1.amazonaws.com.cn":                "cn-north-1",
		"s3.eu-west-1.amazonaws.com:443":                "eu-west-1",
		"s3.dualstack.eu-west-1.amazonaws.com":          "eu-west-1",
		"https://s3.dualstack.ap-south-1.amazonaws.com": "ap-south-1",
		"s3-fips.us-gov-west-1.amazonaws.com":           "us-gov-west-1",
		"s3-fips.dualstack.us-east-2.amazonaws.com":     "us-east-2",
		"s3-external-1.amazonaws.com":                   "",
		"127.0.0.1:7070":                                "",
		"http://minio.internal:9000":                    "",
	} {
		if got := regionFromEndpoint(ep); got != want {
			t.Errorf("regionFromEndpoint(%q) = %q, want %q", ep, got, want)
		}
	}
	if c := (Config{Endpoint: "s3-eu-west-1.amazonaws.com"}).withDefaults(); c.Region != "eu-west-1" {
		t.Errorf("default region for the original endpoint: %q", c.Region)
	}
	if c := (Config{Endpoint: "s3-eu-west-1.amazonaws.com", Region: "us-east-2"}).withDefaults(); c.Region != "us-east-2" {
		t.Errorf("an explicit region was overridden: %q", c.Region)
	}
}

func TestAddressing(t *testing.T) {
	for _, tc := range []struct {
		mode, host, bucket string
		path               bool
	}{
		{"auto", "127.0.0.1:7070", "b", true},
		{"auto", "10.0.0.1", "b", true},
		{"auto", "[::1]:9000", "b", true},
		{"auto", "minio.internal:9000", "b", true},
		{"auto", "localhost", "b", true},
		{"auto", "s3.eu-west-1.amazonaws.com", "b", false},
		{"auto", "s3.eu-west-1.amazonaws.com", "b.with.dots", true},
		{"path", "s3.amazonaws.com", "b", true},
		{"virtual", "127.0.0.1:7070", "b", false},
	} {
		if got := (Config{Addressing: tc.mode}).usePathStyle(tc.host, tc.bucket); got != tc.path {
			t.Errorf("%s %s %s: path-style %v, want %v", tc.mode, tc.host, tc.bucket, got, tc.path)
		}
	}
}

func TestEndpointURL(t *testing.T) {
	for _, tc := range []struct {
		cfg    Config
		secure bool
		host   string
		bad    bool
	}{
		{cfg: Config{Region: "eu-west-1"}, secure: true, host: "s3.eu-west-1.amazonaws.com"},
		{cfg: Config{Endpoint: "minio:9000"}, secure: true, host: "minio:9000"},
		{cfg: Config{Endpoint: "minio:9000", NoSSL: true}, secure: false, host: "minio:9000"},
		{cfg: Config{Endpoint: "http://127.0.0.1:7070"}, secure: false, host: "127.0.0.1:7070"},
		{cfg: Config{Endpoint: "https://r2.example/"}, secure: true, host: "r2.example"},
		{cfg: Config{Endpoint: "ftp://x"}, bad: true},
		{cfg: Config{Endpoint: "http://x/bucket"}, bad: true},
		{cfg: Config{Endpoint: "x/y"}, bad: true},
	} {
		secure, host, err := tc.cfg.endpointURL()
		if (err != nil) != tc.bad || (!tc.bad && (secure != tc.secure || host != tc.host)) {
			t.Errorf("%+v: %v %q %v", tc.cfg, secure, host, err)
		}
	}
}

// A client reports the endpoint and region it signs for (etcd-backup check
// prints them), resolved here and nowhere else.
func TestClientEndpointAndRegion(t *testing.T) {
	for _, tc := range []struct {
		cfg              Config
		endpoint, region string
	}{
		{Config{Endpoint: "s3-eu-west-1.amazonaws.com"}, "https://s3-eu-west-1.amazonaws.com", "eu-west-1"},
		{Config{Region: "us-west-2"}, "https://s3.us-west-2.amazonaws.com", "us-west-2"},
		{Config{Endpoint: "http://127.0.0.1:7070"}, "http://127.0.0.1:7070", "us-east-1"},
		{Config{Endpoint: "http://127.0.0.1:7070", Region: "eu-central-1"}, "http://127.0.0.1:7070", "eu-central-1"},
	} {
		c, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if c.Endpoint() != tc.endpoint || c.Region() != tc.region {
			t.Errorf("%+v: %s %s, want %s %s", tc.cfg, c.Endpoint(), c.Region(), tc.endpoint, tc.region)
		}
	}
}
