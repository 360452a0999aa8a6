package openapi

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// BenchmarkStreamingFilter filters a 1 MiB list with an undeclared field
// in every item as it streams, and the same list in memory.
func BenchmarkStreamingFilter(b *testing.B) {
	root := streamSchema(b, "list_users")
	body := []byte("[" + strings.TrimSuffix(strings.Repeat(oneUser+",", 1<<20/len(oneUser)), ",") + "]")
	b.Run("streaming-1MiB", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, err := filterStreaming(root, bytes.NewReader(body), io.Discard, false, 1<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("buffered-1MiB", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, _, err := filterBuffered(root, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
