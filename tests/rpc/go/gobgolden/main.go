// Command gobgolden prints, as hex, the gob streams Go's encoding/gob and net/rpc produce for
// the values netsuite's codec is tested against (the golden vectors in test_gob.py).
package main

import (
	"bytes"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"net/rpc"
	"time"
)

type Args struct{ X, Y int }

type Skill struct{ Java, Go string }

type Inner struct {
	A string
	B []int
}

type Everything struct {
	B  bool
	I  int
	U  uint64
	F  float64
	C  complex128
	S  string
	Bs []byte
	Sl []string
	Ar [3]int
	M  map[string]int
	In Inner
	Ps []Inner
}

type Node struct {
	V    int
	Next *Node
}

func dump(name string, values ...interface{}) {
	var buf bytes.Buffer
	enc := gob.NewEncoder(&buf)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
	}
	fmt.Printf("%s %s\n", name, hex.EncodeToString(buf.Bytes()))
}

func main() {
	dump("point", struct{ X, Y int }{22, 33})
	dump("request_sum", rpc.Request{ServiceMethod: "Algorithm.Sum", Seq: 0}, Args{1, 2},
		rpc.Request{ServiceMethod: "Algorithm.Sum", Seq: 1}, Args{-5, 300})
	dump("request_skill", rpc.Request{ServiceMethod: "Programmer.GetSkill", Seq: 7}, Skill{"J", "Go"})
	dump("response_int", rpc.Response{ServiceMethod: "Algorithm.Sum", Seq: 0}, 3,
		rpc.Response{ServiceMethod: "Algorithm.Sum", Seq: 1}, -9223372036854775808)
	dump("response_string", rpc.Response{ServiceMethod: "Programmer.GetSkill", Seq: 200}, "Skill1:J，Skill2Go")
	dump("response_error", rpc.Response{ServiceMethod: "Nope.Sum", Seq: 3, Error: "rpc: can't find service Nope.Sum"}, struct{}{})
	dump("everything", Everything{B: true, I: -129, U: 1 << 63, F: 17.0, C: complex(1.5, -2),
		S: "héllo", Bs: []byte{0, 1, 2}, Sl: []string{"a", ""}, Ar: [3]int{0, 1, 0},
		M: map[string]int{"k": 1}, In: Inner{"x", []int{1}}, Ps: []Inner{{}, {"y", nil}}})
	dump("zero_everything", Everything{})
	dump("list", Node{1, &Node{2, &Node{3, nil}}})
	dump("marshaler", struct{ When time.Time }{time.Date(2009, 11, 10, 23, 0, 0, 0, time.UTC)})
	dump("uints", uint64(0), uint64(127), uint64(128), uint64(256), uint64(1<<64-1))
	dump("ints", int64(0), int64(-1), int64(1), int64(-129), int64(1<<63-1), int64(-1<<63))
}
