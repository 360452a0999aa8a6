package config

import (
	"errors"
	"os"
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
