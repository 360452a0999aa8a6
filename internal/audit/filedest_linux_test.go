//go:build linux

package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDestinationWritesARegularFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := Destination(f)
	if _, ok := w.(*fileDest); !ok {
		t.Fatalf("Destination(regular file) = %T, want raw writes", w)
	}
	var want bytes.Buffer
	for i, size := range []int{1, 100, 64 << 10, 4 << 20, 7} {
		b := bytes.Repeat([]byte{byte('a' + i)}, size)
		if n, err := w.Write(b); n != size || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", size, n, err)
		}
		want.Write(b)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("file holds %d bytes, want the %d written, in order", len(got), want.Len())
	}
}

// After a write slower than slowWrite, writes are ordinary ones for
// slowFor, and still land.
func TestDestinationGoesOrdinaryAfterASlowWrite(t *testing.T) {
	saved := slowWrite
	slowWrite = -1 // every write counts as slow
	defer func() { slowWrite = saved }()
	f, err := os.Create(filepath.Join(t.TempDir(), "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := Destination(f).(*fileDest)
	before := time.Now()
	if _, err := d.Write([]byte("one\n")); err != nil {
		t.Fatal(err)
	}
	if !d.ordinaryUntil.After(before.Add(slowFor / 2)) {
		t.Fatalf("after a slow write: ordinary writes until %v, want about %v from now", d.ordinaryUntil, slowFor)
	}
	until := d.ordinaryUntil
	if _, err := d.Write([]byte("two\n")); err != nil {
		t.Fatal(err)
	}
	if !d.ordinaryUntil.Equal(until) {
		t.Fatal("an ordinary write moved the raw writes' return")
	}
	if got, _ := os.ReadFile(f.Name()); string(got) != "one\ntwo\n" {
		t.Fatalf("file holds %q", got)
	}
}

func TestDestinationClosedFile(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	w := Destination(f)
	f.Close()
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write after Close: %v, want os.ErrClosed", err)
	}
}

func TestDestinationLeavesOthers(t *testing.T) {
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pw.Close()
	if w := Destination(pw); w != pw {
		t.Fatalf("Destination(pipe) = %T, want the pipe itself (a full pipe blocks)", w)
	}
	var b bytes.Buffer
	if w := Destination(&b); w != &b {
		t.Fatal("Destination changed a bytes.Buffer")
	}
}
