package openapi

import (
	"strconv"
	"strings"
)

// Owner is an operation's x-rampart-owner extension: the ownership rules
// (BOLA) of the route routes_from_spec generates for it, as require.match
// and require.match_bypass_roles:
//
//	x-rampart-owner:
//	  match: [{path: username, claim: sub}]
//	  bypass_roles: [admin]
//
// The loader checks the shape and that a path rule names a parameter of the
// operation's path; the authorization package checks the rest when the
// route is built, as for a route written by hand.
type Owner struct {
	Match       []OwnerRule
	BypassRoles []string
}

// OwnerRule is one rule: one request value (Path, Query, Header or JSON)
// that must equal the principal's Claim.
type OwnerRule struct {
	Path, Query, Header, JSON, Claim string
}

// owner reads the operation's x-rampart-owner, if any.
func (l *loader) owner(op *operation, at loc) {
	n := at.n
	if n == nil {
		return
	}
	if n.kind != kMap {
		l.errorf(at, "x-rampart-owner must be an object with match (and bypass_roles)")
		return
	}
	o := &Owner{}
	for i, k := range n.keys {
		v := loc{at.src, at.ptr + "/" + ptrToken(k), n.vals[i]}
		switch k {
		case "match":
			if v.n.kind != kSeq || len(v.n.vals) == 0 {
				l.errorf(v, "x-rampart-owner match must be a non-empty list of rules")
				continue
			}
			for j, rn := range v.n.vals {
				if r, ok := l.ownerRule(op, loc{v.src, v.ptr + "/" + strconv.Itoa(j), rn}); ok {
					o.Match = append(o.Match, r)
				}
			}
		case "bypass_roles":
			o.BypassRoles = l.ownerStrings(v)
		default:
			l.errorf(v, "unknown key %q in x-rampart-owner (match, bypass_roles)", k)
		}
	}
	if len(o.Match) == 0 {
		l.errorf(at, "x-rampart-owner needs match rules")
		return
	}
	op.owner = o
}

func (l *loader) ownerRule(op *operation, at loc) (OwnerRule, bool) {
	var r OwnerRule
	if at.n.kind != kMap {
		l.errorf(at, "an ownership rule must be an object such as {path: username, claim: sub}")
		return r, false
	}
	ok := true
	for i, k := range at.n.keys {
		v := at.n.vals[i]
		vl := loc{at.src, at.ptr + "/" + ptrToken(k), v}
		if v.kind != kStr || v.s == "" {
			l.errorf(vl, "%s must be a non-empty string", k)
			ok = false
			continue
		}
		switch k {
		case "path":
			r.Path = v.s
			if !strings.Contains(op.path, "{"+v.s+"}") {
				l.errorf(vl, "path %q is not a parameter of %s", v.s, op.path)
				ok = false
			}
		case "query":
			r.Query = v.s
		case "header":
			r.Header = v.s
		case "json":
			r.JSON = v.s
		case "claim":
			r.Claim = v.s
		default:
			l.errorf(vl, "unknown key %q in an ownership rule (path, query, header, json, claim)", k)
			ok = false
		}
	}
	return r, ok
}

func (l *loader) ownerStrings(at loc) []string {
	if at.n.kind != kSeq {
		l.errorf(at, "must be a list of strings")
		return nil
	}
	var out []string
	for _, v := range at.n.vals {
		if v.kind != kStr || v.s == "" {
			l.errorf(at, "must be a list of non-empty strings")
			return nil
		}
		out = append(out, v.s)
	}
	return out
}
