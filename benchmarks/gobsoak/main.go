// gobsoak: Go net/rpc (gob) clients for benchmarks/soak.py.
//
// It calls Algorithm.Sum at a steady rate over rpc.DialHTTP (the XML-RPC port's
// CONNECT /_goRPC_ handshake) or rpc.Dial (the rpc plugin's --gob listener),
// checks every reply, and prints one JSON line at the end:
// {"ok": N, "errors": N, "wrong": N, "reconnects": N, "elapsed_s": S, "first_error": "..."}.
// Standard library only: go build -o gobsoak benchmarks/gobsoak/main.go (soak.py does it).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/rpc"
	"os"
	"sync"
	"time"
)

type Args struct{ X, Y int }

func main() {
	addr := flag.String("addr", "127.0.0.1:8808", "server address")
	mode := flag.String("mode", "http", "http (rpc.DialHTTP) or raw (rpc.Dial)")
	rate := flag.Float64("rate", 50, "calls per second, all connections together")
	conns := flag.Int("conns", 2, "connections")
	duration := flag.Duration("duration", 10*time.Second, "how long")
	flag.Parse()

	var mu sync.Mutex
	var ok, errs, wrong, reconnects int
	firstErr := ""
	note := func(err error) {
		mu.Lock()
		errs++
		if firstErr == "" {
			firstErr = err.Error()
		}
		mu.Unlock()
	}
	dial := func() (*rpc.Client, error) {
		if *mode == "raw" {
			return rpc.Dial("tcp", *addr)
		}
		return rpc.DialHTTP("tcp", *addr)
	}
	start := time.Now()
	deadline := start.Add(*duration)
	interval := time.Duration(float64(time.Second) * float64(*conns) / *rate)
	var wg sync.WaitGroup
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			client, err := dial()
			if err != nil {
				note(err)
				return
			}
			ticker := time.NewTicker(interval)
			defer ticker.Stop()
			for i := 0; time.Now().Before(deadline); i++ {
				<-ticker.C
				var reply int
				x, y := c*1000000+i, i
				if err := client.Call("Algorithm.Sum", Args{x, y}, &reply); err != nil {
					note(err)
					client.Close()
					if client, err = dial(); err != nil {
						note(err)
						return
					}
					mu.Lock()
					reconnects++
					mu.Unlock()
					continue
				}
				mu.Lock()
				if reply == x+y {
					ok++
				} else {
					wrong++
				}
				mu.Unlock()
			}
			client.Close()
		}(c)
	}
	wg.Wait()
	out, _ := json.Marshal(map[string]interface{}{
		"ok": ok, "errors": errs, "wrong": wrong, "reconnects": reconnects,
		"elapsed_s": time.Since(start).Seconds(), "first_error": firstErr,
	})
	fmt.Fprintln(os.Stdout, string(out))
}
