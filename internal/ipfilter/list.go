package ipfilter

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// List is a set of IPv4 and IPv6 prefixes, compiled into sorted, merged
// address ranges so that a lookup is a binary search: O(log n), no
// allocation. The zero List (and a nil *List) contains nothing. A List is
// immutable once built, so any number of requests may read it at once.
type List struct {
	v4      []range4
	v6      []range6
	entries int // prefixes it was built from (before merging)
}

type range4 struct{ first, last uint32 }

// u128 is an IPv6 address as a number, for ordering and adjacency.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// next is a+1 and whether it did not overflow.
func (a u128) next() (u128, bool) {
	if a.lo != ^uint64(0) {
		return u128{a.hi, a.lo + 1}, true
	}
	if a.hi != ^uint64(0) {
		return u128{a.hi + 1, 0}, true
	}
	return a, false
}

type range6 struct{ first, last u128 }

// NewList compiles prefixes (each canonical, as ParseEntry returns them;
// IPv4-mapped IPv6 prefixes are taken as IPv4). Overlapping and adjacent
// ranges are merged.
func NewList(prefixes []netip.Prefix) *List {
	l := &List{entries: len(prefixes)}
	for _, p := range prefixes {
		p = unmapPrefix(p).Masked()
		a := p.Addr()
		if a.Is4() {
			b := a.As4()
			first := binary.BigEndian.Uint32(b[:])
			host := uint32(0)
			if p.Bits() < 32 {
				host = ^uint32(0) >> p.Bits()
			}
			l.v4 = append(l.v4, range4{first, first | host})
			continue
		}
		first := toU128(a)
		last := first
		switch bits := p.Bits(); {
		case bits == 0:
			last = u128{^uint64(0), ^uint64(0)}
		case bits <= 64:
			last = u128{first.hi | ^uint64(0)>>bits, ^uint64(0)}
		case bits < 128:
			last.lo |= ^uint64(0) >> (bits - 64)
		}
		l.v6 = append(l.v6, range6{first, last})
	}
	l.v4 = merge4(l.v4)
	l.v6 = merge6(l.v6)
	return l
}

func merge4(rs []range4) []range4 {
	slices.SortFunc(rs, func(a, b range4) int { return cmp.Compare(a.first, b.first) })
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && (out[n-1].last == ^uint32(0) || r.first <= out[n-1].last+1) {
			out[n-1].last = max(out[n-1].last, r.last)
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

func merge6(rs []range6) []range6 {
	slices.SortFunc(rs, func(a, b range6) int {
		switch {
		case a.first.less(b.first):
			return -1
		case b.first.less(a.first):
			return 1
		}
		return 0
	})
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 {
			prev := &out[n-1]
			after, ok := prev.last.next()
			if !ok || !after.less(r.first) { // r starts within prev or right after it
				if prev.last.less(r.last) {
					prev.last = r.last
				}
				continue
			}
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

func toU128(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// unmapPrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104) into
// the IPv4 prefix it covers (10.0.0.0/8): clients are compared unmapped.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

// Contains reports whether a lies in the list. An IPv4-mapped IPv6 address
// is looked up as IPv4; an invalid address is in no list.
func (l *List) Contains(a netip.Addr) bool {
	if l == nil {
		return false
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		b := a.As4()
		x := binary.BigEndian.Uint32(b[:])
		rs := l.v4
		lo, hi := 0, len(rs)
		for lo < hi { // the first range starting after x
			mid := int(uint(lo+hi) >> 1)
			if rs[mid].first <= x {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return lo > 0 && x <= rs[lo-1].last
	}
	if !a.Is6() {
		return false
	}
	x := toU128(a)
	rs := l.v6
	lo, hi := 0, len(rs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if !x.less(rs[mid].first) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo > 0 && !rs[lo-1].last.less(x)
}

// Len is the number of entries the list was built from.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return l.entries
}

// Ranges is the number of address ranges left after merging.
func (l *List) Ranges() int {
	if l == nil {
		return 0
	}
	return len(l.v4) + len(l.v6)
}

// ParseEntry reads one list entry: an IPv4 or IPv6 address (taken as /32
// or /128) or a CIDR prefix. The prefix must be canonical: an entry with
// bits set after the prefix length (10.0.0.1/8) is refused rather than
// silently widened, since the writer meant either the one address or the
// network, and guessing wrong opens or closes more than intended. The
// error's message says the canonical form and never repeats the entry
// (callers show it).
func ParseEntry(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("is not an IP address or CIDR prefix (such as 192.0.2.0/24 or 2001:db8::/32)")
		}
		if m := p.Masked(); m != p {
			return p, fmt.Errorf("has bits set after the prefix length; write %q for the network, or %q for that one address", m, p.Addr())
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, fmt.Errorf("is not an IP address or CIDR prefix (such as 192.0.2.0/24 or 2001:db8::/32)")
		}
		if a.Zone() != "" {
			return p, fmt.Errorf("has an IPv6 zone; write the address without %%%s", a.Zone())
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	// A mapped prefix is at least /96 here: a shorter one has bits of
	// ::ffff after its length, refused above.
	return unmapPrefix(p), nil
}

// LineError is a bad line of a list file, at its 1-based line and column.
type LineError struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg) }

// maxLineErrors bounds the problems reported for one file: a binary file
// or the wrong path would otherwise produce one per line.
const maxLineErrors = 50

// ParseFile reads a list file: one address or CIDR prefix per line; blank
// lines and everything from a "#" to the end of a line are ignored;
// surrounding spaces, tabs and a CR before the LF are too. name is used in
// errors only. It returns every valid entry and a *LineError per bad line
// (at most maxLineErrors, then one saying how many more).
func ParseFile(name string, data []byte) ([]netip.Prefix, []error) {
	var out []netip.Prefix
	var errs []error
	more := 0
	fail := func(line, col int, format string, args ...any) {
		if len(errs) == maxLineErrors {
			more++
			return
		}
		errs = append(errs, &LineError{File: name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
	}
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		start := 0
		for start < len(line) && isSpace(line[start]) {
			start++
		}
		end := len(line)
		for end > start && isSpace(line[end-1]) {
			end--
		}
		if start == end {
			continue
		}
		field := line[start:end]
		if i := bytes.IndexAny(field, " \t"); i >= 0 {
			next := i + 1 // the next entry, where the message points
			for isSpace(field[next]) {
				next++
			}
			fail(n, start+next+1, "one address or CIDR prefix per line; found more after %s", quote(field[:i]))
			continue
		}
		p, err := ParseEntry(string(field))
		if err != nil {
			fail(n, start+1, "entry %s %v", quote(field), err)
			continue
		}
		out = append(out, p)
	}
	if more > 0 {
		last := errs[len(errs)-1].(*LineError)
		errs = append(errs, &LineError{File: name, Line: last.Line, Col: 1, Msg: fmt.Sprintf("... and %d more bad lines", more)})
	}
	return out, errs
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' }

// quote shows a file's text in a message: quoted, escaped, and cut short.
func quote(b []byte) string {
	const max = 60
	if len(b) > max {
		return fmt.Sprintf("%q...", b[:max])
	}
	return fmt.Sprintf("%q", b)
}
