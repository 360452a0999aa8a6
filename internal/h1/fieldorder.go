package h1

import (
	"encoding/binary"
	"net/http"
	"slices"
)

// fieldName is a response field's name with its first 16 bytes as two
// big-endian integers, zero-padded. Padding keeps the order: if a < b then
// (hi, lo) of a ≤ (hi, lo) of b, so comparing the integers first and the
// names only on a tie sorts exactly as the names do, and most comparisons
// (canonical names differ early: Content-Length, Content-Type, ...) are
// two integer compares instead of a string compare.
type fieldName struct {
	hi, lo uint64
	name   string
}

func (a *fieldName) less(b *fieldName) bool {
	if a.hi != b.hi {
		return a.hi < b.hi
	}
	if a.lo != b.lo {
		return a.lo < b.lo
	}
	return a.name < b.name
}

// insertionMax: up to this many fields are sorted by insertion (a response
// has 10 to 25); more (an upstream may send thousands) by pdqsort, so that
// the work stays n log n.
const insertionMax = 32

// sortFieldNames returns the keys of h's fields in byte order, in names
// (reused: its capacity is kept by the caller).
func sortFieldNames(h http.Header, names []fieldName) []fieldName {
	names = names[:0]
	for k := range h {
		var b [16]byte
		copy(b[:], k)
		names = append(names, fieldName{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), k})
	}
	if len(names) > insertionMax {
		slices.SortFunc(names, func(a, b fieldName) int {
			switch {
			case a.less(&b):
				return -1
			case b.less(&a):
				return 1
			}
			return 0
		})
		return names
	}
	for i := 1; i < len(names); i++ {
		n := names[i]
		j := i
		for ; j > 0 && n.less(&names[j-1]); j-- {
			names[j] = names[j-1]
		}
		names[j] = n
	}
	return names
}
