// Command freeport prints N TCP ports that are free on 127.0.0.1, one per
// line. It holds all N listeners open until it has printed them, so the ports
// are distinct; another process could still take one before the harness binds
// it, which on a benchmark machine is rare enough (the harness checks that
// every server answers before measuring).
//
//	freeport -n 6
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
)

func main() {
	n := flag.Int("n", 1, "how many ports")
	flag.Parse()
	ls := make([]net.Listener, 0, *n)
	for range *n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatalf("freeport: %v", err)
		}
		ls = append(ls, l)
	}
	for _, l := range ls {
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
		_ = l.Close()
	}
}
