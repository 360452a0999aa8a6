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

// fieldOrder remembers the names of the last head it ordered. Responses
// through one server mostly carry the same fields (an upstream's few, then
// the gateway's security profile and request id): when a head has exactly
// the remembered names, they are its order, and neither the map iteration
// nor the sort is needed (together ~3% of a proxied request's user time at
// 8 and at 256 connections, issue 21). It lives in the pooled bufs, so it
// stays warm in the cache while connections take turns.
type fieldOrder struct {
	names []string    // the remembered names, in byte order
	vals  [][]string  // the head's values, by name: cleared by done
	sort  []fieldName // scratch for sorting
}

// of returns h's names in byte order and h's value for each. The slices are
// the fieldOrder's: valid until the next call; call done after use.
//
// A hit needs every remembered name present and as many names in h: the
// remembered names are distinct, so h then has exactly them.
func (o *fieldOrder) of(h http.Header) ([]string, [][]string) {
	n := len(h)
	if n == len(o.names) {
		vals := o.vals[:n]
		hit := true
		for i, k := range o.names {
			v, ok := h[k]
			if !ok {
				hit = false
				break
			}
			vals[i] = v
		}
		if hit {
			return o.names, vals
		}
	}
	o.sort = sortFieldNames(h, o.sort)
	clear(o.names)
	o.names = o.names[:0]
	for i := range o.sort {
		o.names = append(o.names, o.sort[i].name)
	}
	clear(o.sort) // the names are held once, in names
	o.sort = o.sort[:0]
	o.vals = slices.Grow(o.vals[:0], n)[:n]
	for i, k := range o.names {
		o.vals[i] = h[k]
	}
	return o.names, o.vals
}

// done drops the values of the head just written: only names are kept
// between heads (values may be credentials, cookies).
func (o *fieldOrder) done() { clear(o.vals) }
