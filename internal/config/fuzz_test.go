package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics or hangs, and that every error it reports
// carries the file name and a 1-based line and column. Seeds: testdata/fuzz/FuzzParse
// plus every testdata input.
func FuzzParse(f *testing.F) {
	for _, in := range testdataInputs(f) {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	env := lookup(map[string]string{"RAMPART_ADMIN_TOKEN": testEnv["RAMPART_ADMIN_TOKEN"], "INTROSPECT_SECRET": testEnv["INTROSPECT_SECRET"], "EMPTY": "", "DOLLAR": "${X}"})
	f.Fuzz(func(t *testing.T, data []byte) {
		type result struct {
			cfg *Config
			err error
		}
		done := make(chan result, 1)
		go func() {
			cfg, err := Parse("fuzz.yaml", data, env)
			done <- result{cfg, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Parse did not return within 10s on %d bytes", len(data))
		}
		if r.err == nil {
			if r.cfg == nil {
				t.Fatal("nil config without error")
			}
			return
		}
		if r.cfg != nil {
			t.Fatal("config returned together with an error")
		}
		var es Errors
		if !errors.As(r.err, &es) {
			t.Fatalf("Parse returned %T, want Errors: %v", r.err, r.err)
		}
		if len(es) == 0 {
			t.Fatal("empty Errors")
		}
		for _, e := range es {
			if e.File != "fuzz.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
				t.Fatalf("bad error %#v", e)
			}
		}
	})
}

// TestHostileInputsStayFast parses 2-4 MiB files built to be expensive (hundreds of
// thousands of errors, unknown keys, dangling references, distinct methods, one huge
// key) and fails if any takes unreasonably long: a hang guard, not a benchmark.
func TestHostileInputsStayFast(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	gen := map[string]func() string{
		"unknown keys": func() string {
			var b strings.Builder
			b.WriteString("version: 1\nadmin: {listen: off}\nserver:\n")
			for i := 0; b.Len() < MaxFileSize-100; i++ {
				fmt.Fprintf(&b, "  max_bodyxbytes%d: 1\n", i)
			}
			return b.String()
		},
		"dangling references": func() string {
			var b strings.Builder
			b.WriteString("version: 1\nadmin: {listen: off}\nupstreams:\n")
			for i := 0; i < 3000; i++ {
				fmt.Fprintf(&b, "  upstream_%d: {targets: [\"http://a\"]}\n", i)
			}
			b.WriteString("routes:\n")
			for i := 0; b.Len() < MaxFileSize-200; i++ {
				fmt.Fprintf(&b, "  - {name: r%d, path: \"/a/{x}\", methods: [GET], upstream: upstream_%dx, auth: [a%d], cors: c, rate_limit: [x]}\n", i, i, i)
			}
			return b.String()
		},
		"long flow list": func() string {
			return "version: 1\nadmin: {listen: off}\nserver: {trusted_proxies: [" + strings.Repeat("1.2.3.4, ", (MaxFileSize-100)/9) + "]}\n"
		},
		"long key": func() string {
			return "version: 1\nadmin: {listen: off}\nserver: {" + strings.Repeat("k", MaxFileSize-100) + ": 1}\n"
		},
		"many methods and overlaps": func() string {
			var b strings.Builder
			b.WriteString("version: 1\nadmin: {listen: off}\nupstreams: {u: {targets: [\"http://a\"]}}\nroutes:\n")
			for i := 0; b.Len() < MaxFileSize-200; i++ {
				fmt.Fprintf(&b, "  - {name: r%d, path: \"/a/{p%d}\", methods: [M%d, GET], upstream: u, auth: none}\n", i, i, i%100)
			}
			return b.String()
		},
	}
	for name, g := range gen {
		src := g()
		start := time.Now()
		_, err := Parse("hostile.yaml", []byte(src), nil)
		d := time.Since(start)
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("%s: want Errors, got %v", name, err)
		}
		t.Logf("%s: %d bytes, %d errors, %v", name, len(src), len(es), d)
		if d > 60*time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
}
