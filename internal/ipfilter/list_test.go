package ipfilter

import (
	"net/netip"
	"strings"
	"testing"
)

func mustList(t testing.TB, entries ...string) *List {
	t.Helper()
	ps := make([]netip.Prefix, len(entries))
	for i, s := range entries {
		p, err := ParseEntry(s)
		if err != nil {
			t.Fatalf("ParseEntry(%q): %v", s, err)
		}
		ps[i] = p
	}
	return NewList(ps)
}

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "192.0.2.7", want: "192.0.2.7/32"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:db8::1", want: "2001:db8::1/128"},
		{in: "::/0", want: "::/0"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "::ffff:10.1.2.3", want: "10.1.2.3/32"},    // mapped address → IPv4
		{in: "::ffff:10.0.0.0/104", want: "10.0.0.0/8"}, // mapped prefix → IPv4
		{in: "::ffff:0.0.0.0/96", want: "0.0.0.0/0"},    // all of mapped space → all IPv4
		{in: "10.0.0.1/8", err: `write "10.0.0.0/8" for the network, or "10.0.0.1" for that one address`},
		{in: "2001:db8::1/32", err: `write "2001:db8::/32" for the network`},
		{in: "::ffff:0:0/95", err: `write "::fffe:0:0/95" for the network`}, // shorter than /96: not mapped
		{in: "fe80::1%eth0", err: "has an IPv6 zone"},
		{in: "010.0.0.1", err: "is not an IP address or CIDR prefix"}, // leading zeros: octal or decimal?
		{in: "10.0.0.0/33", err: "is not an IP address or CIDR prefix"},
		{in: "example.com", err: "is not an IP address or CIDR prefix"},
		{in: "", err: "is not an IP address or CIDR prefix"},
		{in: "10.0.0.0/", err: "is not an IP address or CIDR prefix"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseEntry(tc.in)
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("err = %v, want one containing %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tc.err == "" && got.String() != tc.want:
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestListContains(t *testing.T) {
	l := mustList(t,
		"10.0.0.0/8", "10.1.0.0/16", // nested: merged into one range
		"192.0.2.0/25", "192.0.2.128/25", // adjacent: merged
		"198.51.100.7",
		"255.255.255.255",
		"2001:db8::/32", "2001:db8:1::/48",
		"2001:db9::1",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"::ffff:203.0.113.0/120", // mapped: the IPv4 203.0.113.0/24
	)
	if got, want := l.Len(), 11; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if got, want := l.Ranges(), 8; got != want {
		t.Errorf("Ranges = %d, want %d (nested and adjacent merged)", got, want)
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.0.0.0", true}, {"10.255.255.255", true}, {"9.255.255.255", false}, {"11.0.0.0", false},
		{"192.0.2.0", true}, {"192.0.2.200", true}, {"192.0.3.0", false},
		{"198.51.100.7", true}, {"198.51.100.6", false}, {"198.51.100.8", false},
		{"255.255.255.255", true}, {"0.0.0.0", false},
		{"203.0.113.9", true}, {"::ffff:203.0.113.9", true}, // mapped client looked up as IPv4
		{"::ffff:10.2.3.4", true},
		{"2001:db8::1", true}, {"2001:db8:ffff::1", true}, {"2001:db7:ffff::", false}, {"2001:db9::", false},
		{"2001:db9::1", true}, {"2001:db9::2", false},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true}, {"::", false},
		{"::a00:1", false}, // IPv4-compatible (not mapped) is IPv6
	} {
		if got := l.Contains(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Contains(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if l.Contains(netip.Addr{}) {
		t.Error("the invalid address is in a list")
	}
	var empty *List
	if empty.Contains(netip.MustParseAddr("10.0.0.1")) || (&List{}).Contains(netip.MustParseAddr("::1")) {
		t.Error("an empty list contains an address")
	}
}

func TestListWholeSpaces(t *testing.T) {
	l := mustList(t, "0.0.0.0/0", "::/0", "10.0.0.0/8")
	if l.Ranges() != 2 {
		t.Errorf("Ranges = %d, want 2", l.Ranges())
	}
	for _, a := range []string{"0.0.0.0", "255.255.255.255", "::", "ffff::1"} {
		if !l.Contains(netip.MustParseAddr(a)) {
			t.Errorf("%s not in 0.0.0.0/0 + ::/0", a)
		}
	}
	v6only := mustList(t, "::/0")
	if v6only.Contains(netip.MustParseAddr("192.0.2.1")) {
		t.Error("::/0 contains an IPv4 client")
	}
}

func TestParseFile(t *testing.T) {
	data := "# office and VPN\n" +
		"192.0.2.0/24   # office\n" +
		"\n" +
		"  2001:db8::/32\r\n" +
		"\t10.0.0.1/8\n" +
		"198.51.100.1 198.51.100.2\n" +
		"not-an-ip\n" +
		"203.0.113.5" // no final newline
	ps, errs := ParseFile("deny.txt", []byte(data))
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if want := "192.0.2.0/24 2001:db8::/32 203.0.113.5/32"; strings.Join(got, " ") != want {
		t.Errorf("entries = %v, want %s", got, want)
	}
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	want := []string{
		`deny.txt:5:2: entry "10.0.0.1/8" has bits set after the prefix length; write "10.0.0.0/8" for the network, or "10.0.0.1" for that one address`,
		`deny.txt:6:14: one address or CIDR prefix per line; found more after "198.51.100.1"`,
		`deny.txt:7:1: entry "not-an-ip" is not an IP address or CIDR prefix (such as 192.0.2.0/24 or 2001:db8::/32)`,
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseFileBoundsErrors(t *testing.T) {
	data := strings.Repeat("bad\n", 1000)
	_, errs := ParseFile("x", []byte(data))
	if len(errs) != maxLineErrors+1 {
		t.Fatalf("%d errors, want %d", len(errs), maxLineErrors+1)
	}
	if got := errs[len(errs)-1].Error(); got != "x:50:1: ... and 950 more bad lines" {
		t.Errorf("last = %q", got)
	}
}

func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		"10.0.0.0/8\n# c\n\n2001:db8::/32 # x\r\n",
		"::ffff:10.0.0.0/104\n10.0.0.1/8\n",
		"a b\n\t\n#\n",
		"fe80::1%eth0\n::/0\n0.0.0.0/0",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, errs := ParseFile("f", data)
		for _, err := range errs {
			le := err.(*LineError)
			if le.Line < 1 || le.Col < 1 {
				t.Fatalf("bad position in %v", le)
			}
		}
		l := NewList(ps)
		// Every parsed prefix's first and last addresses are in the list.
		for _, p := range ps {
			if !l.Contains(p.Addr()) {
				t.Fatalf("%s: its first address is not in the list", p)
			}
			last := p.Addr()
			for i := p.Bits(); i < last.BitLen() && i < p.Bits()+8; i++ {
				last = last.Next()
			}
			if p.Contains(last) && !l.Contains(last) {
				t.Fatalf("%s: %s is not in the list", p, last)
			}
		}
	})
}
