// Command etcdload fills an etcd cluster quickly with large values, for
// bench/etcd-backup.sh: `etcdload -endpoints URL -size 1024` writes about
// 1 GiB. `etcdload -freeport` prints a free loopback TCP port.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func main() {
	endpoints := flag.String("endpoints", "http://127.0.0.1:2379", "etcd endpoint")
	sizeMiB := flag.Int64("size", 256, "MiB of values to write")
	valueKiB := flag.Int("value-size", 1000, "KiB per value (etcd 3.4 refuses requests over 1.5 MiB)")
	workers := flag.Int("concurrency", 8, "puts in flight")
	prefix := flag.String("prefix", "/bench/", "key prefix")
	freeport := flag.Bool("freeport", false, "print a free loopback port and exit")
	values := flag.String("values", "random", "random (incompressible bytes) or objects (Kubernetes-like JSON records, compressible as real etcd data is)")
	flag.Parse()
	if *freeport {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, "etcdload:", err)
			os.Exit(1)
		}
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		l.Close()
		return
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{*endpoints}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdload:", err)
		os.Exit(1)
	}
	defer cli.Close()
	vsize := *valueKiB << 10
	n := (*sizeMiB << 20) / int64(vsize)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, *workers)
	start := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			v := make([]byte, vsize)
			fillValue := func() {
				if *values == "objects" {
					objects(r, v)
					return
				}
				for i := range v {
					v[i] = byte(r.Uint32())
				}
			}
			fillValue()
			for {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				if *values == "objects" {
					fillValue() // each value its own records
				} else {
					v[0], v[1], v[2], v[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := cli.Put(ctx, fmt.Sprintf("%s%08d", *prefix, i), string(v))
				cancel()
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		fmt.Fprintln(os.Stderr, "etcdload:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "etcdload: %d values of %d KiB in %.1fs\n", n, *valueKiB, time.Since(start).Seconds())
}

// objects fills v with Kubernetes-like JSON records: repeated field names
// and structure, random names, UIDs, versions and a random secret each, so
// that the data compresses about as real etcd data does (several-fold), not
// as random bytes (not at all) or one repeated byte (thousands-fold).
func objects(r *rand.Rand, v []byte) {
	const hex = "0123456789abcdef"
	rnd := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = hex[r.IntN(16)]
		}
		return string(b)
	}
	out := v[:0]
	for len(out) < len(v) {
		secret := make([]byte, 48)
		for i := range secret {
			secret[i] = byte(r.Uint32())
		}
		rec := fmt.Sprintf(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-%s-%s","namespace":"team-%d","uid":"%s-%s-%s-%s-%s",`+
			`"resourceVersion":"%d","creationTimestamp":"2026-11-%02dT%02d:%02d:%02dZ","labels":{"app":"web-%d","pod-template-hash":"%s"},`+
			`"annotations":{"token":"%x"}},"spec":{"containers":[{"name":"app","image":"registry.example.com/team-%d/app:%d.%d.%d",`+
			`"resources":{"limits":{"cpu":"%dm","memory":"%dMi"}}}],"nodeName":"node-%d"},"status":{"phase":"Running","podIP":"10.%d.%d.%d"}}`+"\n",
			rnd(10), rnd(5), r.IntN(40), rnd(8), rnd(4), rnd(4), rnd(4), rnd(12), r.IntN(1<<30), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60),
			r.IntN(200), rnd(10), secret, r.IntN(40), r.IntN(5), r.IntN(20), r.IntN(100), 100*(1+r.IntN(20)), 64*(1+r.IntN(32)), r.IntN(300),
			r.IntN(256), r.IntN(256), r.IntN(256))
		out = append(out, rec...)
	}
	copy(v, out[:len(v)])
}
