package etcdtest

import (
	"context"
	"strings"
	"testing"
	"time"

	"cronbox/testkit"
)

func TestEmbedServesAndStopsTwice(t *testing.T) {
	e := Embed(t, Options{})
	cli := e.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	r, err := cli.Get(ctx, "k")
	if err != nil || len(r.Kvs) != 1 || string(r.Kvs[0].Value) != "v" {
		t.Fatalf("get: %v %v", r, err)
	}
	e.Stop()
	e.Stop() // embed's Close would panic here
}

// The Debian 3.4 cluster starts, survives losing one member, and takes it back.
func TestClusterKillRestart(t *testing.T) {
	c := StartCluster(t, ClusterOptions{Size: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := c.Client(t).Status(ctx, c.Endpoints()[0])
	if err != nil {
		t.Fatal(err)
	}
	if st.Version[:4] != "3.4." {
		t.Fatalf("version %s, want Debian's 3.4", st.Version)
	}
	c.Kill(t, 0)
	if c.Running(0) {
		t.Fatal("member 0 still running after Kill")
	}
	c.WaitHealthy(t) // the two others still have a leader
	// Member 0 may have been the leader: a put can time out while the two
	// others elect a new one, so the cluster gets until the deadline.
	put := NewClient(t, c.Endpoints()[1])
	testkit.WaitFor(t, 20*time.Second, "a put with one member down", func() error {
		pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
		defer pcancel()
		_, err := put.Put(pctx, "k", "v")
		return err
	})
	c.Restart(t, 0)
	r, err := NewClient(t, c.Endpoints()[0]).Get(ctx, "k")
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("restarted member: %v %v", r, err)
	}
}

func TestEmbedTLS(t *testing.T) {
	e := Embed(t, Options{TLS: NewCerts(t)})
	if !strings.HasPrefix(e.Endpoint, "https://") {
		t.Fatalf("endpoint %s", e.Endpoint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Client(t).Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
}
