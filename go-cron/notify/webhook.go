package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body,
// keyed with the webhook secret, as GitHub signs its webhooks: a receiver
// recomputes it over the raw body and compares in constant time.
const SignatureHeader = "X-Cronbox-Signature"

// webhook POSTs each event as JSON.
type webhook struct {
	url       string
	secret    []byte
	client    *http.Client
	userAgent string
}

func newWebhook(raw, secret string) (*webhook, error) {
	u, err := parseHTTPURL(raw)
	if err != nil {
		return nil, err
	}
	return &webhook{url: u.String(), secret: []byte(secret)}, nil
}

func (w *webhook) setup(env setupEnv) { w.client, w.userAgent = env.client, env.userAgent }

// Sign returns the X-Cronbox-Signature value of body under secret.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func (w *webhook) send(ctx context.Context, m *message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(m.payload))
	if err != nil {
		return permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.userAgent)
	req.Header.Set("X-Cronbox-Event", string(m.event))
	if len(w.secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(w.secret, m.payload))
	}
	return do(w.client, req)
}
