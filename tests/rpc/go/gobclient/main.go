// Command gobclient is the book's Go net/rpc client, unchanged in spirit: it calls
// Algorithm.Sum and Programmer.GetSkill with gob encoding through rpc.DialHTTP (or rpc.Dial
// with -raw), checks Go's error texts, then makes -n concurrent calls on one connection.
// It prints one "ok ..." line per check and exits non-zero on the first failure.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/rpc"
	"strings"
	"sync"
)

// Args are Algorithm.Sum's operands, as in the book.
type Args struct {
	X, Y int
}

// Skills are Programmer.GetSkill's arguments, as in the book.
type Skills struct {
	Java, Go string
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8808", "server address")
	raw := flag.Bool("raw", false, "rpc.Dial instead of rpc.DialHTTP")
	n := flag.Int("n", 200, "concurrent calls")
	flag.Parse()

	var client *rpc.Client
	var err error
	if *raw {
		client, err = rpc.Dial("tcp", *addr)
	} else {
		client, err = rpc.DialHTTP("tcp", *addr)
	}
	if err != nil {
		log.Fatalf("dial: %v", err)
	}
	defer client.Close()

	var sum int
	if err := client.Call("Algorithm.Sum", &Args{1, 2}, &sum); err != nil || sum != 3 {
		log.Fatalf("Algorithm.Sum(1, 2) = %d, %v", sum, err)
	}
	fmt.Println("ok sum", sum)

	var skill string
	if err := client.Call("Programmer.GetSkill", &Skills{"Java", "Go"}, &skill); err != nil ||
		skill != "Skill1:Java，Skill2Go" {
		log.Fatalf("Programmer.GetSkill = %q, %v", skill, err)
	}
	fmt.Println("ok skill", skill)

	err = client.Call("Algorithm.Nope", &Args{1, 2}, &sum)
	if err == nil || err.Error() != "rpc: can't find method Algorithm.Nope" {
		log.Fatalf("unknown method: %v", err)
	}
	err = client.Call("Nope.Sum", &Args{1, 2}, &sum)
	if err == nil || err.Error() != "rpc: can't find service Nope.Sum" {
		log.Fatalf("unknown service: %v", err)
	}
	err = client.Call("Algorithm.Sum", &Args{1<<63 - 1, 1}, &sum)
	if err == nil || !strings.Contains(err.Error(), "overflow") {
		log.Fatalf("overflow: %v", err)
	}
	fmt.Println("ok errors")

	var wg sync.WaitGroup
	errs := make(chan error, *n)
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			var reply int
			call := client.Go("Algorithm.Sum", &Args{i, -2 * i}, &reply, nil)
			<-call.Done
			if call.Error != nil || reply != -i {
				errs <- fmt.Errorf("call %d: %d, %v", i, reply, call.Error)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		log.Fatal(err)
	}
	fmt.Println("ok concurrent", *n)
}
