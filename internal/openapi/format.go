package openapi

import (
	"math"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// format is a checked "format": those of the JSON Schema 2020-12 and
// OpenAPI format registries that can be checked exactly. The others
// (idn-email, idn-hostname, iri, iri-reference, uri-template, float,
// double, password...) and formats no registry lists are annotations, as
// JSON Schema 2020-12 makes every format by default, and are not checked.
type format uint8

const (
	fNone format = iota
	fDateTime
	fDate
	fTime
	fEmail
	fUUID
	fURI
	fURIRef
	fIPv4
	fIPv6
	fHostname
	fInt32
	fInt64
	fByte
	fBinary // never checked; also relaxes string length checks (file parts)
	fDuration
	fJSONPointer
	fRelJSONPointer
	fRegex
	fInt8
	fInt16
	fUint8
	fUint16
	fUint32
	fUint64
	fDoubleInt
)

func formatNamed(name string) format {
	switch name {
	case "date-time":
		return fDateTime
	case "date":
		return fDate
	case "time":
		return fTime
	case "email":
		return fEmail
	case "uuid":
		return fUUID
	case "uri":
		return fURI
	case "uri-reference":
		return fURIRef
	case "ipv4":
		return fIPv4
	case "ipv6":
		return fIPv6
	case "hostname":
		return fHostname
	case "int32":
		return fInt32
	case "int64":
		return fInt64
	case "byte":
		return fByte
	case "binary":
		return fBinary
	case "duration":
		return fDuration
	case "json-pointer":
		return fJSONPointer
	case "relative-json-pointer":
		return fRelJSONPointer
	case "regex":
		return fRegex
	case "int8":
		return fInt8
	case "int16":
		return fInt16
	case "uint8":
		return fUint8
	case "uint16":
		return fUint16
	case "uint32":
		return fUint32
	case "uint64":
		return fUint64
	case "double-int":
		return fDoubleInt
	}
	return fNone
}

func (f format) String() string {
	return [...]string{"", "date-time", "date", "time", "email", "uuid", "uri", "uri-reference",
		"ipv4", "ipv6", "hostname", "int32", "int64", "byte", "binary", "duration", "json-pointer",
		"relative-json-pointer", "regex", "int8", "int16", "uint8", "uint16", "uint32", "uint64", "double-int"}[f]
}

// checkNumberFormat reports whether a number fits the integer format.
func checkNumberFormat(f format, v float64) bool {
	switch f {
	case fInt8:
		return v >= math.MinInt8 && v <= math.MaxInt8
	case fInt16:
		return v >= math.MinInt16 && v <= math.MaxInt16
	case fInt32:
		return v >= math.MinInt32 && v <= math.MaxInt32
	case fInt64:
		return v >= math.MinInt64 && v < math.MaxInt64
	case fUint8:
		return v >= 0 && v <= math.MaxUint8
	case fUint16:
		return v >= 0 && v <= math.MaxUint16
	case fUint32:
		return v >= 0 && v <= math.MaxUint32
	case fUint64:
		return v >= 0 && v < math.MaxUint64
	case fDoubleInt: // integers a double holds exactly
		return v >= -(1<<53) && v <= 1<<53
	}
	return true
}

// checkStringFormat reports whether s is valid for f.
func checkStringFormat(f format, s []byte) bool {
	switch f {
	case fDateTime:
		return isDateTime(s)
	case fDate:
		return len(s) == 10 && parses("2006-01-02", s)
	case fTime:
		return isTime(s)
	case fEmail:
		return isEmail(s)
	case fUUID:
		return isUUID(s)
	case fURI:
		u, err := url.Parse(string(s))
		return err == nil && u.Scheme != "" && utf8.Valid(s)
	case fURIRef:
		_, err := url.Parse(string(s))
		return err == nil
	case fIPv4:
		a, err := netip.ParseAddr(string(s))
		return err == nil && a.Is4()
	case fIPv6:
		a, err := netip.ParseAddr(string(s))
		return err == nil && a.Is6() && a.Zone() == ""
	case fHostname:
		return isHostname(s)
	case fByte:
		return isBase64(s)
	case fDuration:
		return isDuration(s)
	case fJSONPointer:
		return isJSONPointer(s)
	case fRelJSONPointer:
		return isRelJSONPointer(s)
	case fRegex:
		_, err := compilePattern(string(s))
		return err == nil
	}
	return true
}

// isDuration accepts ISO 8601 durations as RFC 3339 Appendix A writes
// them (PnYnMnDTnHnMnS, PnW), without its rule that units may not be
// skipped (P1Y2D): ISO 8601 and most libraries accept that form.
func isDuration(s []byte) bool {
	if len(s) < 3 || s[0] != 'P' {
		return false
	}
	units, inTime, seen := "YMWD", false, false
	for i := 1; i < len(s); {
		if s[i] == 'T' {
			if inTime || i == len(s)-1 {
				return false
			}
			units, inTime = "HMS", true
			i++
			continue
		}
		j := i
		for j < len(s) && '0' <= s[j] && s[j] <= '9' {
			j++
		}
		if j == i || j == len(s) {
			return false
		}
		k := strings.IndexByte(units, s[j])
		if k < 0 {
			return false
		}
		units, seen, i = units[k+1:], true, j+1
	}
	return seen && s[len(s)-1] != 'T'
}

// isJSONPointer accepts RFC 6901 pointers ("" or "/a/b~1c").
func isJSONPointer(s []byte) bool {
	if len(s) > 0 && s[0] != '/' {
		return false
	}
	for i, c := range s {
		if c == '~' && (i+1 == len(s) || s[i+1] != '0' && s[i+1] != '1') {
			return false
		}
	}
	return utf8.Valid(s)
}

// isRelJSONPointer accepts relative JSON pointers: a non-negative integer
// without leading zeros, then "#" or a JSON pointer.
func isRelJSONPointer(s []byte) bool {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 || s[0] == '0' && i > 1 {
		return false
	}
	return string(s[i:]) == "#" || isJSONPointer(s[i:])
}

func parses(layout string, s []byte) bool {
	_, err := time.Parse(layout, string(s))
	return err == nil
}

// isDateTime accepts RFC 3339 date-times. A missing offset is accepted, as
// Pydantic, Django and most frameworks accept naive datetimes; the form is
// otherwise strict (T separator, two-digit fields, valid calendar date).
func isDateTime(s []byte) bool {
	if len(s) < 19 || (s[10] != 'T' && s[10] != 't') {
		return false
	}
	return len(s) >= 10 && parses("2006-01-02", s[:10]) && isTime(s[11:])
}

// isTime accepts HH:MM:SS[.frac][Z|±HH:MM] (the offset optional, see isDateTime).
func isTime(s []byte) bool {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' || !digits(s[0:2]) || !digits(s[3:5]) || !digits(s[6:8]) {
		return false
	}
	h, m, sec := int(s[0]-'0')*10+int(s[1]-'0'), int(s[3]-'0')*10+int(s[4]-'0'), int(s[6]-'0')*10+int(s[7]-'0')
	if h > 23 || m > 59 || sec > 60 {
		return false
	}
	rest := s[8:]
	if len(rest) > 0 && rest[0] == '.' {
		i := 1
		for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
			i++
		}
		if i == 1 {
			return false
		}
		rest = rest[i:]
	}
	switch {
	case len(rest) == 0:
		return true
	case len(rest) == 1:
		return rest[0] == 'Z' || rest[0] == 'z'
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' && digits(rest[1:3]) && digits(rest[4:6]):
		return int(rest[1]-'0')*10+int(rest[2]-'0') <= 23 && int(rest[4]-'0')*10+int(rest[5]-'0') <= 59
	}
	return false
}

func digits(s []byte) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(s) > 0
}

func isUUID(s []byte) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHexByte(c) {
				return false
			}
		}
	}
	return true
}

func isHexByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isEmail accepts addr-spec forms with a dot-atom local part (what
// email-validator, behind Pydantic's EmailStr, accepts without quoting) and
// an LDH domain with at least one dot. Internationalized local parts are
// accepted as UTF-8.
func isEmail(s []byte) bool {
	at := -1
	for i, c := range s {
		if c == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at < 1 || at > 64 || at == len(s)-1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' {
		return false
	}
	for i, c := range local {
		switch {
		case c >= 0x80:
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.':
			if local[i-1] == '.' {
				return false
			}
		default:
			switch c {
			case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '/', '=', '?', '^', '_', '`', '{', '|', '}', '~':
			default:
				return false
			}
		}
	}
	hasDot := false
	for _, c := range domain {
		if c == '.' {
			hasDot = true
		}
	}
	return hasDot && isHostname(domain)
}

func isHostname(s []byte) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	label := 0
	for i, c := range s {
		switch {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return false
			}
			label = 0
			continue
		case c == '-':
			if label == 0 {
				return false
			}
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c >= 0x80: // internationalized (U-label); length is still bounded
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0 && s[len(s)-1] != '-'
}

// isBase64 checks RFC 4648 standard base64 with padding.
func isBase64(s []byte) bool {
	if len(s)%4 != 0 {
		return false
	}
	for i, c := range s {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
		case c == '=':
			// only in the last two positions, and only as a suffix
			if i < len(s)-2 || (i == len(s)-2 && s[len(s)-1] != '=') {
				return false
			}
		default:
			return false
		}
	}
	return true
}
