// Command gobrich calls netsuite's rich test methods (tests/rpc/wiremethods.py) with Go's
// unmodified net/rpc gob client and Go's own structs: structs, slices, maps, float64, bool,
// []byte, a pointer left nil, an optional result, application and type errors, and
// concurrent calls on one connection. It prints one "ok ..." line per check and exits
// non-zero on the first failure.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math"
	"net/rpc"
	"reflect"
	"strings"
	"sync"
)

type Point struct {
	X, Y int64
}

type MoveArgs struct {
	P  Point
	By []int64
}

type Item struct {
	Sku   string
	Qty   int64
	Price float64
	Tags  []string
	Meta  map[string]int64
	Blob  []byte
	Note  *string
}

type TotalArgs struct {
	Items    []Item
	Discount float64
	Vip      bool
}

type Receipt struct {
	Total   float64
	Count   int64
	Skus    []string
	Flags   map[string]bool
	Digest  []byte
	First   Point
	Corners []Point
	Note    *string
}

type EchoArgs struct {
	Data  []byte
	Label *string
	Scale float64
	Ok    bool
}

type FindArgs struct{ Sku string }

type FailArgs struct{ Reason string }

// BadPoint has a string where the server wants an int64: a type error two levels down.
type BadPoint struct {
	X string
	Y int64
}

type BadMoveArgs struct {
	P  BadPoint
	By []int64
}

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		log.Fatalf(format, args...)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8808", "server address")
	raw := flag.Bool("raw", false, "rpc.Dial instead of rpc.DialHTTP")
	flag.Parse()

	var client *rpc.Client
	var err error
	if *raw {
		client, err = rpc.Dial("tcp", *addr)
	} else {
		client, err = rpc.DialHTTP("tcp", *addr)
	}
	check(err == nil, "dial: %v", err)
	defer client.Close()

	var moved Point
	err = client.Call("Geo.Move", &MoveArgs{Point{1, 2}, []int64{3, 4}}, &moved)
	check(err == nil && moved == Point{4, 6}, "Geo.Move = %+v, %v", moved, err)
	fmt.Println("ok move", moved.X, moved.Y)

	note := "fragile"
	items := []Item{
		{Sku: "a-1", Qty: 2, Price: 1.25, Tags: []string{"x", "y"},
			Meta: map[string]int64{"w": 3}, Blob: []byte{0, 1, 2}, Note: &note},
		{Sku: "b-2", Qty: 1, Price: 10, Blob: []byte("\xff")}, // nil slice, map and note
	}
	var receipt Receipt
	err = client.Call("Shop.Total", &TotalArgs{items, 0.5, true}, &receipt)
	check(err == nil, "Shop.Total: %v", err)
	check(receipt.Total == 6.25 && receipt.Count == 3, "totals %+v", receipt)
	check(reflect.DeepEqual(receipt.Skus, []string{"a-1", "b-2"}), "skus %v", receipt.Skus)
	check(reflect.DeepEqual(receipt.Flags, map[string]bool{"vip": true, "empty": false}),
		"flags %v", receipt.Flags)
	check(len(receipt.Digest) == 4, "digest %x", receipt.Digest)
	check(receipt.First == Point{2, 3}, "first %+v", receipt.First)
	check(reflect.DeepEqual(receipt.Corners, []Point{{2, 2}, {1, 0}}), "corners %v",
		receipt.Corners)
	check(receipt.Note != nil && *receipt.Note == "fragile", "note %q", *receipt.Note)
	fmt.Printf("ok total %v %x\n", receipt.Total, receipt.Digest)

	var echoed map[string][]float64
	err = client.Call("Shop.Echo", &EchoArgs{Data: bytes.Repeat([]byte{7}, 5), Scale: 1.5,
		Ok: true}, &echoed)
	check(err == nil, "Shop.Echo: %v", err)
	check(reflect.DeepEqual(echoed, map[string][]float64{"len": {5}, "label": {0},
		"scale": {1.5, 3}, "ok": {1}}), "echo %v", echoed)
	fmt.Println("ok echo")

	err = client.Call("Shop.Echo", &EchoArgs{Scale: math.Inf(1)}, &echoed)
	check(err == nil && math.IsInf(echoed["scale"][1], 1), "Shop.Echo(+Inf): %v %v", echoed,
		err)
	fmt.Println("ok inf")

	var found *Point
	err = client.Call("Shop.Find", &FindArgs{"known"}, &found)
	check(err == nil && found != nil && *found == Point{1, 2}, "Shop.Find(known) %v %v", found,
		err)
	var missing Point
	err = client.Call("Shop.Find", &FindArgs{"other"}, &missing)
	check(err == nil && missing == Point{}, "Shop.Find(other) %v %v", missing, err)
	fmt.Println("ok optional")

	var n int64
	err = client.Call("Shop.Fail", &FailArgs{"closed"}, &n)
	check(err != nil && err.Error() == "refused: closed", "Shop.Fail: %v", err)
	err = client.Call("Geo.Move", &BadMoveArgs{BadPoint{"1", 2}, nil}, &moved)
	check(err != nil && strings.Contains(err.Error(), "p.x: expected int64, got string"),
		"Geo.Move(bad) error %v", err)
	err = client.Call("Geo.Jump", &MoveArgs{}, &moved)
	check(err != nil && err.Error() == "rpc: can't find method Geo.Jump", "Geo.Jump: %v", err)
	fmt.Println("ok errors")

	var wg sync.WaitGroup
	failures := make(chan string, 100)
	for i := int64(0); i < 100; i++ {
		wg.Add(1)
		go func(i int64) {
			defer wg.Done()
			var p Point
			err := client.Call("Geo.Move", &MoveArgs{Point{i, -i}, []int64{1, 1}}, &p)
			if err != nil || p != (Point{i + 1, 1 - i}) {
				failures <- fmt.Sprintf("call %d: %+v %v", i, p, err)
			}
		}(i)
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		log.Fatal(f)
	}
	fmt.Println("ok concurrent 100")
}
