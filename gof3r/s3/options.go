package s3

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"
)

// SSE is how the server encrypts an object at rest.
type SSE struct {
	// Mode is "" (the bucket's default), "AES256" (S3-managed keys),
	// "aws:kms" (KMS keys) or "SSE-C" (CustomerKey).
	Mode string
	// KMSKeyID is the KMS key for aws:kms; "" means the account's default
	// aws/s3 key.
	KMSKeyID string
	// CustomerKey is the 32-byte key for SSE-C. S3 does not keep it: every
	// read of the object (Get, Stat) must send it again.
	CustomerKey []byte
}

// SSE modes.
const (
	SSES3  = "AES256"
	SSEKMS = "aws:kms"
	SSEC   = "SSE-C"
)

// String names the mode (and the KMS key), never the customer key.
func (s SSE) String() string {
	switch s.Mode {
	case SSEKMS:
		if s.KMSKeyID != "" {
			return SSEKMS + " (key " + s.KMSKeyID + ")"
		}
	case SSEC:
		return fmt.Sprintf("SSE-C (key MD5 %s)", s.keyMD5())
	}
	return s.Mode
}

func (s SSE) keyMD5() string {
	sum := md5.Sum(s.CustomerKey)
	return base64.StdEncoding.EncodeToString(sum[:])
}

func (s SSE) validate() error {
	switch s.Mode {
	case "":
		if s.KMSKeyID != "" || len(s.CustomerKey) > 0 {
			return errors.New("SSE: a KMS key id or customer key without a mode")
		}
	case SSES3:
		if s.KMSKeyID != "" || len(s.CustomerKey) > 0 {
			return errors.New("SSE AES256 takes no key")
		}
	case SSEKMS:
		if len(s.CustomerKey) > 0 {
			return errors.New("SSE aws:kms takes a KMS key id, not a customer key")
		}
	case SSEC:
		if len(s.CustomerKey) != 32 {
			return fmt.Errorf("SSE-C: the key has %d bytes, want 32", len(s.CustomerKey))
		}
		if s.KMSKeyID != "" {
			return errors.New("SSE-C takes a customer key, not a KMS key id")
		}
	default:
		return fmt.Errorf("SSE mode %q: want AES256, aws:kms or SSE-C", s.Mode)
	}
	return nil
}

// forWrite is the minio-go form for CreateMultipartUpload / PutObject.
func (s SSE) forWrite() encrypt.ServerSide {
	switch s.Mode {
	case SSES3:
		return encrypt.NewSSE()
	case SSEKMS:
		k, _ := encrypt.NewSSEKMS(s.KMSKeyID, nil)
		return k
	case SSEC:
		k, _ := encrypt.NewSSEC(s.CustomerKey)
		return k
	}
	return nil
}

// forRead is what a read (GET, HEAD) and every part upload must repeat:
// only an SSE-C key; the others are the object's own business.
func (s SSE) forRead() encrypt.ServerSide {
	if s.Mode == SSEC {
		return s.forWrite()
	}
	return nil
}

// ParseSSEMode reads an SSE mode as the command line or environment
// spells it: "", "none", "AES256", "aws:kms" or "SSE-C" (any case).
func ParseSSEMode(mode string) (string, error) {
	switch m := strings.TrimSpace(mode); strings.ToLower(m) {
	case "", "none", "off":
		return "", nil
	case "aes256":
		return SSES3, nil
	case "aws:kms", "kms":
		return SSEKMS, nil
	case "sse-c", "ssec":
		return SSEC, nil
	default:
		return "", errors.New("want AES256, aws:kms or SSE-C")
	}
}

// ParseSSE builds an SSE from the command line's or environment's
// spelling (ParseSSEMode); customerKey is the SSE-C key (see
// ParseCustomerKey). A KMS key id alone means aws:kms, a customer key
// alone SSE-C.
func ParseSSE(mode, kmsKeyID string, customerKey []byte) (SSE, error) {
	s := SSE{KMSKeyID: strings.TrimSpace(kmsKeyID), CustomerKey: customerKey}
	m, err := ParseSSEMode(mode)
	if err != nil {
		return s, err
	}
	s.Mode = m
	switch {
	case m != "":
	case len(customerKey) > 0:
		s.Mode = SSEC
	case s.KMSKeyID != "":
		s.Mode = SSEKMS
	}
	return s, s.validate()
}

// ParseCustomerKey reads an SSE-C key as a file holds it: 32 raw bytes,
// or the same in base64 (44 characters) or hex (64), surrounding spaces
// ignored for the text forms.
func ParseCustomerKey(b []byte) ([]byte, error) {
	if len(b) == 32 {
		return b, nil
	}
	t := strings.TrimSpace(string(b))
	if k, err := base64.StdEncoding.DecodeString(t); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := hex.DecodeString(t); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, fmt.Errorf("not a 256-bit key: want 32 bytes, or them in base64 or hex (got %d bytes)", len(b))
}

// ReadCustomerKeyFile reads an SSE-C key file. A file that others than
// its owner can read is accepted with a warning, returned for the caller
// to log.
func ReadCustomerKeyFile(path string) (key []byte, warning string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if st.Mode().Perm()&0o077 != 0 {
		warning = fmt.Sprintf("%s is readable by others (mode %04o): an SSE-C key should be 0600", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	key, err = ParseCustomerKey(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return key, warning, nil
}

// Lock is an object's S3 Object Lock state: a retention (mode and date)
// and a legal hold. Put sets Mode and Until; Stat reports all three (S3
// shows them to callers allowed s3:GetObjectRetention and
// s3:GetObjectLegalHold).
type Lock struct {
	Mode      string    // LockGovernance, LockCompliance, or "" for no retention
	Until     time.Time // the retention's end
	LegalHold bool
}

// Object Lock retention modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// Active says whether the lock forbids deleting the object at now.
func (l Lock) Active(now time.Time) bool {
	return l.LegalHold || (l.Mode != "" && now.Before(l.Until))
}

func (l Lock) String() string {
	var parts []string
	if l.Mode != "" {
		parts = append(parts, fmt.Sprintf("%s until %s", l.Mode, l.Until.UTC().Format(time.RFC3339)))
	}
	if l.LegalHold {
		parts = append(parts, "legal hold")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func (l Lock) validate() error {
	switch l.Mode {
	case "":
		if !l.Until.IsZero() {
			return errors.New("object lock: a retention date without a mode")
		}
	case LockGovernance, LockCompliance:
		if l.Until.IsZero() {
			return fmt.Errorf("object lock %s: no retention date", l.Mode)
		}
	default:
		return fmt.Errorf("object lock mode %q: want GOVERNANCE or COMPLIANCE", l.Mode)
	}
	return nil
}

// LockFor is the lock of an object written now under mode for retain:
// Until is rounded up to the second (S3 keeps seconds).
func LockFor(mode string, retain time.Duration, now time.Time) Lock {
	if mode == "" {
		return Lock{}
	}
	return Lock{Mode: mode, Until: now.Add(retain).Add(time.Second - 1).Truncate(time.Second).UTC()}
}

// ParseLockMode reads GOVERNANCE or COMPLIANCE (any case); "" and "none"
// mean no lock.
func ParseLockMode(s string) (string, error) {
	switch m := strings.ToUpper(strings.TrimSpace(s)); m {
	case "", "NONE", "OFF":
		return "", nil
	case LockGovernance, LockCompliance:
		return m, nil
	}
	return "", errors.New("want GOVERNANCE or COMPLIANCE")
}

// ParseRetention reads a retention period: a Go duration (720h) or a
// whole number of days (30d) or years (1y, 365 days).
func ParseRetention(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	var d time.Duration
	var err error
	switch {
	case strings.HasSuffix(t, "d"), strings.HasSuffix(t, "y"):
		n, perr := strconv.Atoi(t[:len(t)-1])
		unit := 24 * time.Hour
		if strings.HasSuffix(t, "y") {
			unit *= 365
		}
		if perr != nil || n > 100*365 {
			err = errors.New("bad number")
		}
		d = time.Duration(n) * unit
	default:
		d, err = time.ParseDuration(t)
	}
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive period such as 30d, 1y or 720h")
	}
	return d, nil
}

// CannedACLs are the canned ACLs S3 accepts in x-amz-acl.
var CannedACLs = []string{"private", "public-read", "public-read-write", "authenticated-read",
	"aws-exec-read", "bucket-owner-read", "bucket-owner-full-control", "log-delivery-write"}

// ParseACL checks a canned ACL name.
func ParseACL(s string) (string, error) {
	a := strings.ToLower(strings.TrimSpace(s))
	for _, c := range CannedACLs {
		if a == c {
			return a, nil
		}
	}
	return "", fmt.Errorf("want a canned ACL: %s", strings.Join(CannedACLs, ", "))
}

// ObjectEnv is what PutOptionsFromEnv and SSEFromEnv read: the object
// options a tool takes from the environment.
//
//	AWS_S3_SSE                  AES256, aws:kms or SSE-C
//	AWS_S3_SSE_KMS_KEY_ID       the KMS key for aws:kms
//	AWS_S3_SSE_C_KEY            an SSE-C key in base64 or hex
//	AWS_S3_SSE_C_KEY_FILE       or a file holding it (raw, base64 or hex)
//	AWS_S3_OBJECT_LOCK_MODE     GOVERNANCE or COMPLIANCE
//	AWS_S3_OBJECT_LOCK_RETAIN   the retention: 30d, 1y, 720h
//	AWS_S3_ACL                  a canned ACL
const ObjectEnv = "AWS_S3_SSE, AWS_S3_SSE_KMS_KEY_ID, AWS_S3_SSE_C_KEY(_FILE), AWS_S3_OBJECT_LOCK_MODE, AWS_S3_OBJECT_LOCK_RETAIN, AWS_S3_ACL"

// SSEFromEnv reads AWS_S3_SSE, AWS_S3_SSE_KMS_KEY_ID and
// AWS_S3_SSE_C_KEY / AWS_S3_SSE_C_KEY_FILE. A readers needs it for SSE-C
// objects (the key). warning is non-empty when the key file is readable by
// others. Errors name the variable; the key never appears in them.
func SSEFromEnv(getenv func(string) string) (sse SSE, warning string, err error) {
	var key []byte
	v, f := strings.TrimSpace(getenv("AWS_S3_SSE_C_KEY")), strings.TrimSpace(getenv("AWS_S3_SSE_C_KEY_FILE"))
	switch {
	case v != "" && f != "":
		return SSE{}, "", errors.New("AWS_S3_SSE_C_KEY and AWS_S3_SSE_C_KEY_FILE are both set: set one")
	case v != "":
		if key, err = ParseCustomerKey([]byte(v)); err != nil || len(v) == 32 {
			return SSE{}, "", errors.New("AWS_S3_SSE_C_KEY: not a 256-bit key in base64 or hex")
		}
	case f != "":
		if key, warning, err = ReadCustomerKeyFile(f); err != nil {
			return SSE{}, "", fmt.Errorf("AWS_S3_SSE_C_KEY_FILE: %v", err)
		}
	}
	mode := getenv("AWS_S3_SSE")
	sse, err = ParseSSE(mode, getenv("AWS_S3_SSE_KMS_KEY_ID"), key)
	if err != nil {
		return SSE{}, "", fmt.Errorf("AWS_S3_SSE=%s: %v", strconv.Quote(strings.TrimSpace(mode)), err)
	}
	return sse, warning, nil
}

// PutOptionsFromEnv reads the object options of ObjectEnv into a
// PutOptions (SSE, Lock from now, ACL). warning is SSEFromEnv's.
func PutOptionsFromEnv(getenv func(string) string, now time.Time) (opts PutOptions, warning string, err error) {
	if opts.SSE, warning, err = SSEFromEnv(getenv); err != nil {
		return opts, "", err
	}
	mode, err := ParseLockMode(getenv("AWS_S3_OBJECT_LOCK_MODE"))
	if err != nil {
		return opts, "", fmt.Errorf("AWS_S3_OBJECT_LOCK_MODE=%q: %v", getenv("AWS_S3_OBJECT_LOCK_MODE"), err)
	}
	retain := strings.TrimSpace(getenv("AWS_S3_OBJECT_LOCK_RETAIN"))
	switch {
	case mode != "" && retain == "":
		return opts, "", errors.New("AWS_S3_OBJECT_LOCK_MODE is set but AWS_S3_OBJECT_LOCK_RETAIN is not: say how long")
	case mode == "" && retain != "":
		return opts, "", errors.New("AWS_S3_OBJECT_LOCK_RETAIN is set but AWS_S3_OBJECT_LOCK_MODE is not: GOVERNANCE or COMPLIANCE")
	case mode != "":
		d, err := ParseRetention(retain)
		if err != nil {
			return opts, "", fmt.Errorf("AWS_S3_OBJECT_LOCK_RETAIN=%q: %v", retain, err)
		}
		opts.Lock = LockFor(mode, d, now)
	}
	if a := strings.TrimSpace(getenv("AWS_S3_ACL")); a != "" {
		if opts.ACL, err = ParseACL(a); err != nil {
			return opts, "", fmt.Errorf("AWS_S3_ACL=%q: %v", a, err)
		}
	}
	return opts, warning, nil
}

// lockFrom reads an object's lock from its HEAD/GET response headers.
func lockFrom(h http.Header) Lock {
	l := Lock{Mode: strings.ToUpper(h.Get("X-Amz-Object-Lock-Mode")), LegalHold: strings.EqualFold(h.Get("X-Amz-Object-Lock-Legal-Hold"), "ON")}
	if t, err := time.Parse(time.RFC3339, h.Get("X-Amz-Object-Lock-Retain-Until-Date")); err == nil {
		l.Until = t
	}
	return l
}

// applyWriteOptions puts the options that every object creation carries
// into po: content type, metadata and headers, ACL, SSE, lock.
func applyWriteOptions(po *minio.PutObjectOptions, hdr map[string]string, opts PutOptions) {
	for k, v := range hdr {
		if k == "content-type" {
			po.ContentType = v
			continue
		}
		po.UserMetadata[k] = v
	}
	if opts.ACL != "" {
		po.UserMetadata["x-amz-acl"] = opts.ACL
	}
	po.ServerSideEncryption = opts.SSE.forWrite()
	if opts.Lock.Mode != "" {
		po.Mode = minio.RetentionMode(opts.Lock.Mode)
		po.RetainUntilDate = opts.Lock.Until
	}
	if opts.Lock.LegalHold {
		po.LegalHold = minio.LegalHoldEnabled
	}
}
