package lock

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// etcdClient speaks etcd's v3 API through the JSON gateway every etcd
// server (3.4 to 3.7) serves on its client port (/v3/kv/txn,
// /v3/lease/grant, ...), with net/http alone. go.etcd.io/etcd/client/v3
// would do the same over gRPC, but linking it (gRPC, protobuf, zap) doubles
// go-cron: 6.4 MB -> 14.8 MB stripped, idle RSS 6.5 MB -> 13.7 MB, RSS under
// 1 GiB of job output 6.8 MB -> 14.1 MB (measured), against targets of 8 MB
// and 16 MB. The lock needs four calls, so it makes them itself.
type etcdClient struct {
	endpoints      []string // scheme://host:port
	http           *http.Client
	user, password string

	mu    sync.Mutex
	token string
	first int // the endpoint that answered last: tried first
}

func newEtcdClient(cfg Config) (*etcdClient, error) {
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	scheme := "http://"
	if tc != nil {
		scheme = "https://"
	}
	var eps []string
	for _, ep := range cfg.Endpoints {
		if !strings.Contains(ep, "://") {
			ep = scheme + ep
		}
		eps = append(eps, strings.TrimSuffix(ep, "/"))
	}
	tr := &http.Transport{
		TLSClientConfig:     tc,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	if tc == nil {
		tr.TLSClientConfig = &tls.Config{}
	}
	return &etcdClient{endpoints: eps, http: &http.Client{Transport: tr}, user: cfg.User, password: cfg.Password}, nil
}

func (c *etcdClient) close() { c.http.CloseIdleConnections() }

// etcdError is an error etcd answered (as opposed to not answering).
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return "etcdserver: " + strings.TrimPrefix(e.msg, "etcdserver: ") }

// i64 reads the gateway's int64s, which come as JSON strings.
type i64 int64

func (v *i64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*v = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	*v = i64(n)
	return err
}

// call POSTs req to path on the first endpoint that answers and decodes the
// (first) response message into resp.
func (c *etcdClient) call(ctx context.Context, path string, req, resp any) error {
	if err := c.authenticate(ctx, false); err != nil {
		return err
	}
	err := c.post(ctx, path, req, resp)
	var ae *apiError
	if errors.As(err, &ae) && c.user != "" && strings.Contains(ae.msg, "invalid auth token") {
		if err := c.authenticate(ctx, true); err != nil {
			return err
		}
		err = c.post(ctx, path, req, resp)
	}
	return err
}

func (c *etcdClient) authenticate(ctx context.Context, renew bool) error {
	if c.user == "" {
		return nil
	}
	c.mu.Lock()
	have := c.token != ""
	c.mu.Unlock()
	if have && !renew {
		return nil
	}
	var resp struct {
		Token string `json:"token"`
	}
	err := c.post(ctx, "/v3/auth/authenticate", map[string]string{"name": c.user, "password": c.password}, &resp)
	var ae *apiError
	if errors.As(err, &ae) && strings.Contains(ae.msg, "authentication is not enabled") {
		return nil
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.token = resp.Token
	c.mu.Unlock()
	return nil
}

func (c *etcdClient) post(ctx context.Context, path string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	c.mu.Lock()
	first, token := c.first, c.token
	c.mu.Unlock()
	var lastErr error
	for i := range c.endpoints {
		n := (first + i) % len(c.endpoints)
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoints[n]+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		hr.Header.Set("Content-Type", "application/json")
		if token != "" {
			hr.Header.Set("Authorization", token)
		}
		r, err := c.http.Do(hr)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				break
			}
			continue // the next member may answer
		}
		err = decode(r, resp)
		if err == nil {
			c.mu.Lock()
			c.first = n
			c.mu.Unlock()
		}
		return err
	}
	return lastErr
}

// decode reads the first JSON message of r: the gateway streams the
// answers of streaming calls (lease keepalive) as {"result": ...} lines.
func decode(r *http.Response, resp any) error {
	defer r.Body.Close()
	dec := json.NewDecoder(io.LimitReader(r.Body, 16<<20))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		// Not JSON: etcd's HTTP layer refused the request itself.
		text := strings.TrimSpace(string(raw))
		if b, _ := io.ReadAll(io.MultiReader(dec.Buffered(), io.LimitReader(r.Body, 4096))); len(b) > 0 {
			text = strings.TrimSpace(string(b))
		}
		if r.StatusCode != http.StatusOK && text != "" {
			return &apiError{status: r.StatusCode, msg: text}
		}
		return fmt.Errorf("%s: %w", r.Status, err)
	}
	var e struct {
		Error   string          `json:"error"`
		Message string          `json:"message"`
		Result  json.RawMessage `json:"result"`
	}
	_ = json.Unmarshal(raw, &e)
	if r.StatusCode != http.StatusOK || e.Error != "" || (e.Message != "" && e.Result == nil) {
		msg := e.Message
		if msg == "" {
			msg = e.Error
		}
		if msg == "" {
			msg = r.Status
		}
		return &apiError{status: r.StatusCode, msg: msg}
	}
	if e.Result != nil {
		raw = e.Result
	}
	return json.Unmarshal(raw, resp)
}

func (c *etcdClient) grant(ctx context.Context, ttl int64) (int64, error) {
	var resp struct {
		ID    i64    `json:"ID"`
		Error string `json:"error"`
	}
	if err := c.call(ctx, "/v3/lease/grant", map[string]any{"TTL": strconv.FormatInt(ttl, 10)}, &resp); err != nil {
		return 0, err
	}
	if resp.Error != "" {
		return 0, &apiError{msg: resp.Error}
	}
	return int64(resp.ID), nil
}

func (c *etcdClient) revoke(ctx context.Context, id int64) error {
	var resp struct{}
	return c.call(ctx, "/v3/lease/revoke", map[string]any{"ID": strconv.FormatInt(id, 10)}, &resp)
}

// keepAlive renews lease id once and returns its remaining TTL (0: the
// lease is gone).
func (c *etcdClient) keepAlive(ctx context.Context, id int64) (int64, error) {
	var resp struct {
		TTL i64 `json:"TTL"`
	}
	if err := c.call(ctx, "/v3/lease/keepalive", map[string]any{"ID": strconv.FormatInt(id, 10)}, &resp); err != nil {
		return 0, err
	}
	return int64(resp.TTL), nil
}

// The transaction's parts, in the gateway's JSON (bytes are base64).
type (
	compare struct {
		Target         string `json:"target"` // CREATE, MOD, VALUE
		Result         string `json:"result"` // EQUAL
		Key            []byte `json:"key"`
		CreateRevision *i64s  `json:"create_revision,omitempty"`
		ModRevision    *i64s  `json:"mod_revision,omitempty"`
		Value          []byte `json:"value,omitempty"`
	}
	requestOp struct {
		Put    *putRequest    `json:"request_put,omitempty"`
		Range  *rangeRequest  `json:"request_range,omitempty"`
		Delete *deleteRequest `json:"request_delete_range,omitempty"`
	}
	putRequest struct {
		Key   []byte `json:"key"`
		Value []byte `json:"value"`
		Lease string `json:"lease,omitempty"`
	}
	rangeRequest struct {
		Key []byte `json:"key"`
	}
	deleteRequest struct {
		Key      []byte `json:"key"`
		RangeEnd []byte `json:"range_end,omitempty"`
	}
	keyValue struct {
		Key            []byte `json:"key"`
		Value          []byte `json:"value"`
		CreateRevision i64    `json:"create_revision"`
		ModRevision    i64    `json:"mod_revision"`
	}
	txnResponse struct {
		Succeeded bool `json:"succeeded"`
		Responses []struct {
			Range *struct {
				Kvs []keyValue `json:"kvs"`
			} `json:"response_range"`
		} `json:"responses"`
	}
)

// i64s writes an int64 as the gateway's JSON string.
type i64s int64

func (v i64s) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(v), 10) + `"`), nil
}

func createdAt(key string, rev int64) compare {
	r := i64s(rev)
	return compare{Target: "CREATE", Result: "EQUAL", Key: []byte(key), CreateRevision: &r}
}

func modifiedAt(key string, rev int64) compare {
	r := i64s(rev)
	return compare{Target: "MOD", Result: "EQUAL", Key: []byte(key), ModRevision: &r}
}

func valueIs(key string, value []byte) compare {
	return compare{Target: "VALUE", Result: "EQUAL", Key: []byte(key), Value: value}
}

func opPut(key string, value []byte, lease int64) requestOp {
	p := &putRequest{Key: []byte(key), Value: value}
	if lease != 0 {
		p.Lease = strconv.FormatInt(lease, 10)
	}
	return requestOp{Put: p}
}

func opGet(key string) requestOp { return requestOp{Range: &rangeRequest{Key: []byte(key)}} }

func opDelete(key, end string) requestOp {
	d := &deleteRequest{Key: []byte(key)}
	if end != "" {
		d.RangeEnd = []byte(end)
	}
	return requestOp{Delete: d}
}

func (c *etcdClient) txn(ctx context.Context, cmps []compare, then, els []requestOp) (*txnResponse, error) {
	req := map[string]any{"compare": cmps, "success": then, "failure": els}
	if cmps == nil {
		req["compare"] = []compare{}
	}
	if els == nil {
		req["failure"] = []requestOp{}
	}
	var resp txnResponse
	if err := c.call(ctx, "/v3/kv/txn", req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// kv returns the first key of the i-th response, nil when none.
func (r *txnResponse) kv(i int) *keyValue {
	if i >= len(r.Responses) || r.Responses[i].Range == nil || len(r.Responses[i].Range.Kvs) == 0 {
		return nil
	}
	return &r.Responses[i].Range.Kvs[0]
}
