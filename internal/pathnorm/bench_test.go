package pathnorm

import "testing"

func BenchmarkPath(b *testing.B) {
	benchmarks := []struct {
		name string
		in   string
	}{
		{name: "canonical", in: "/api/items/42"},
		{name: "canonical-long", in: "/api/v1/customers/8f14e45f-ceea-467f-a9f0-6c8b0e1f2a3b/orders/12345/items/"},
		{name: "canonical-escaped", in: "/files/r%C3%A9sum%C3%A9.pdf"},
		{name: "rewrite", in: "/api//v1/./items/%7euser/r%c3%a9sum%c3%a9/../42"},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.in)))
			for b.Loop() {
				if _, err := Path(bm.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendPath(b *testing.B) {
	in := "/api//v1/./items/%7euser/r%c3%a9sum%c3%a9/../42"
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var err error
		if buf, err = AppendPath(buf[:0], in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQuery(b *testing.B) {
	in := "a=1&b=two&c=r%C3%A9sum%C3%A9&sort=-created_at&page=2&q=hello+world"
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := Query(in, 0); err != nil {
			b.Fatal(err)
		}
	}
}
