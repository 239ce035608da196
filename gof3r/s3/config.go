package s3

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"cronbox/clikit"
)

// Config says which S3 server to talk to, as whom, and how hard to push.
// The zero value of every optional field means its default.
type Config struct {
	// Endpoint is "" for AWS (s3.<region>.amazonaws.com), a bare host[:port]
	// (https unless NoSSL), or a URL with scheme (http://127.0.0.1:7070).
	Endpoint string
	// Region is any region name; default us-east-1. For an AWS endpoint
	// that names its region (s3-eu-west-1.amazonaws.com) that region is the
	// default instead.
	Region string
	// Addressing is "auto" (default: path-style for an IP, a host with a
	// port, or a bucket with dots; virtual-hosted otherwise), "path" or
	// "virtual".
	Addressing string
	// NoSSL selects plain http for a bare-host endpoint.
	NoSSL bool

	AccessKey, SecretKey, SessionToken string

	// PartSize is the minimum part size of a multipart upload (default 5
	// MiB, the least S3 allows). It doubles every 1,000 parts so that a stream of
	// unknown size fits in S3's 10,000 parts (about 5 TiB from 5 MiB).
	PartSize int64
	// Concurrency is how many parts are in flight at once (default 3). Put
	// holds at most Concurrency part buffers: memory is bounded by
	// PartSize x Concurrency.
	Concurrency int

	// MaxRetries is how many times one request is tried for a transient
	// failure (5xx, connection reset, timeout), with a growing backoff
	// capped at 1 s between tries. Default 10 (minio-go's own): the random
	// backoff then rides out an outage of a few seconds, where 5 tries could
	// all fall inside half a second. 1 disables retries. 403, 404 and
	// NoSuchBucket are never retried.
	MaxRetries int
	// ConnectTimeout bounds dialing and the TLS handshake (default 30 s).
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the wait for a response's headers once the
	// request is sent (default 5 min: completing or copying a large object
	// takes the server a while).
	ResponseTimeout time.Duration
	// StallTimeout is how long a request or response body may make no
	// progress at all before the request is abandoned and retried (default
	// 2 min). A slow link that keeps moving never trips it.
	StallTimeout time.Duration

	// Logger receives debug logs of requests and retries; nil discards them.
	Logger *slog.Logger
}

const (
	minPartSize      = 5 << 20
	defaultPartSize  = 5 << 20
	maxPartSize      = 5 << 30
	maxParts         = 10000
	partsPerDoubling = 1000
)

func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = regionFromEndpoint(c.Endpoint)
	}
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.Addressing == "" {
		c.Addressing = "auto"
	}
	if c.PartSize <= 0 {
		c.PartSize = defaultPartSize
	}
	if c.PartSize < minPartSize {
		c.PartSize = minPartSize
	}
	if c.PartSize > maxPartSize {
		c.PartSize = maxPartSize
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 3
	}
	if c.MaxRetries <= 0 {
		c.MaxRetries = 10
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = 5 * time.Minute
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

var awsRegionHost = regexp.MustCompile(`^s3(?:-fips)?[.-](?:dualstack\.)?([a-z0-9-]+)\.amazonaws\.com(\.cn)?$`)

// regionFromEndpoint reads the region out of an AWS host name such as
// s3-eu-west-1.amazonaws.com or s3.eu-west-1.amazonaws.com (the original
// image's default endpoint is the former), also in its dualstack, FIPS and
// China (.amazonaws.com.cn) forms, so that signing uses it.
func regionFromEndpoint(endpoint string) string {
	host := endpoint
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	m := awsRegionHost.FindStringSubmatch(strings.ToLower(host))
	if m == nil || m[1] == "external-1" || strings.HasPrefix(m[1], "dualstack") {
		return ""
	}
	return m[1]
}

// endpointURL turns Config.Endpoint into a scheme and host.
func (c Config) endpointURL() (secure bool, host string, err error) {
	ep := strings.TrimSpace(c.Endpoint)
	if ep == "" {
		if strings.HasPrefix(c.Region, "cn-") {
			return !c.NoSSL, "s3." + c.Region + ".amazonaws.com.cn", nil
		}
		return !c.NoSSL, "s3." + c.Region + ".amazonaws.com", nil
	}
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return false, "", fmt.Errorf("endpoint %q: %v", ep, err)
		}
		switch u.Scheme {
		case "http", "https":
		default:
			return false, "", fmt.Errorf("endpoint %q: scheme must be http or https", ep)
		}
		if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return false, "", fmt.Errorf("endpoint %q: want scheme://host[:port] with no path", ep)
		}
		return u.Scheme == "https", u.Host, nil
	}
	if strings.ContainsAny(ep, "/?#@ ") {
		return false, "", fmt.Errorf("endpoint %q: want host[:port] or scheme://host[:port]", ep)
	}
	return !c.NoSSL, ep, nil
}

// usePathStyle decides the addressing for one bucket.
func (c Config) usePathStyle(host, bucket string) bool {
	switch c.Addressing {
	case "path":
		return true
	case "virtual":
		return false
	}
	if strings.Contains(bucket, ".") {
		return true // a dotted bucket breaks the *.host TLS wildcard
	}
	h, _, err := net.SplitHostPort(host)
	if err == nil {
		return true // an explicit port: a self-hosted server, no wildcard DNS
	}
	h = strings.Trim(host, "[]")
	return net.ParseIP(h) != nil || h == "localhost"
}

func (c Config) validate() error {
	switch c.Addressing {
	case "auto", "path", "virtual":
	default:
		return fmt.Errorf("addressing %q: want auto, path or virtual", c.Addressing)
	}
	if _, _, err := c.endpointURL(); err != nil {
		return err
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return fmt.Errorf("credentials: an access key needs a secret key and the other way round")
	}
	return nil
}

// ConfigFromEnv reads the standard AWS variables:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (each also
// as NAME_FILE, the path of a file holding the value), AWS_REGION /
// AWS_DEFAULT_REGION / AWS_S3_REGION, AWS_S3_ENDPOINT / AWS_ENDPOINT_URL_S3
// / AWS_ENDPOINT_URL, AWS_S3_ADDRESSING (auto, path, virtual), and, when no
// key is in the environment, the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials; profile
// AWS_PROFILE, default "default"). A malformed value is an error naming the
// variable. Values never appear in errors.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	var err error
	if c.AccessKey, err = secretEnv(getenv, "AWS_ACCESS_KEY_ID"); err != nil {
		return c, err
	}
	if c.SecretKey, err = secretEnv(getenv, "AWS_SECRET_ACCESS_KEY"); err != nil {
		return c, err
	}
	if c.SessionToken, err = secretEnv(getenv, "AWS_SESSION_TOKEN"); err != nil {
		return c, err
	}
	if c.AccessKey == "" && c.SecretKey == "" {
		if err := c.fromSharedFile(getenv); err != nil {
			return c, err
		}
	} else if c.AccessKey == "" {
		return c, fmt.Errorf("AWS_ACCESS_KEY_ID: not set, but AWS_SECRET_ACCESS_KEY is")
	} else if c.SecretKey == "" {
		return c, fmt.Errorf("AWS_SECRET_ACCESS_KEY: not set, but AWS_ACCESS_KEY_ID is")
	}
	for _, name := range []string{"AWS_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			if !validRegion.MatchString(v) {
				return c, fmt.Errorf("%s=%q: not a region name", name, v)
			}
			c.Region = v
			break
		}
	}
	for _, name := range []string{"AWS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"} {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			c.Endpoint = v
			if _, _, err := c.endpointURL(); err != nil {
				return c, fmt.Errorf("%s: %v", name, err)
			}
			break
		}
	}
	if v := strings.TrimSpace(getenv("AWS_S3_ADDRESSING")); v != "" {
		c.Addressing = v
		if err := (Config{Addressing: v}).validate(); err != nil {
			return c, fmt.Errorf("AWS_S3_ADDRESSING: %v", err)
		}
	}
	return c, nil
}

var validRegion = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]*$`)

// secretEnv reads NAME, or the file named by NAME_FILE (clikit.Secret);
// setting both is an error because one of them would be silently ignored,
// and so is an empty file.
func secretEnv(getenv func(string) string, name string) (string, error) {
	v, from, err := clikit.Secret(clikit.Getenv(getenv), name)
	if err != nil {
		return "", err
	}
	if v = strings.TrimSpace(v); v == "" && from == name+"_FILE" {
		return "", fmt.Errorf("%s: %s is empty", from, getenv(from))
	}
	return v, nil
}

// fromSharedFile reads the profile's keys from the shared credentials file.
// A missing default file is not an error (anonymous access); a missing file
// named by AWS_SHARED_CREDENTIALS_FILE, or a missing named profile, is.
func (c *Config) fromSharedFile(getenv func(string) string) error {
	path, named := getenv("AWS_SHARED_CREDENTIALS_FILE"), true
	if path == "" {
		named = false
		home := getenv("HOME")
		if home == "" {
			return nil
		}
		path = filepath.Join(home, ".aws", "credentials")
	}
	profile, namedProfile := getenv("AWS_PROFILE"), true
	if profile == "" {
		profile, namedProfile = "default", false
	}
	f, err := os.Open(path)
	if err != nil {
		if !named && !namedProfile && os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("AWS_SHARED_CREDENTIALS_FILE: %v", err)
	}
	defer f.Close()
	section, found := "", false
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' || s[0] == ';' {
			continue
		}
		if s[0] == '[' {
			if !strings.HasSuffix(s, "]") {
				return fmt.Errorf("AWS_SHARED_CREDENTIALS_FILE: %s:%d: malformed section header", path, line)
			}
			section = strings.TrimSpace(strings.TrimPrefix(s[1:len(s)-1], "profile "))
			found = found || section == profile
			continue
		}
		if section != profile {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("AWS_SHARED_CREDENTIALS_FILE: %s:%d: want key = value", path, line)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "aws_access_key_id":
			c.AccessKey = strings.TrimSpace(v)
		case "aws_secret_access_key":
			c.SecretKey = strings.TrimSpace(v)
		case "aws_session_token":
			c.SessionToken = strings.TrimSpace(v)
		case "region":
			if c.Region == "" {
				c.Region = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("AWS_SHARED_CREDENTIALS_FILE: %s: %v", path, err)
	}
	if !found {
		if !namedProfile {
			return nil
		}
		return fmt.Errorf("AWS_PROFILE=%s: no such profile in %s", strconv.Quote(profile), path)
	}
	if (c.AccessKey == "") != (c.SecretKey == "") {
		return fmt.Errorf("AWS_SHARED_CREDENTIALS_FILE: profile %s in %s has only one of aws_access_key_id and aws_secret_access_key", profile, path)
	}
	return nil
}
