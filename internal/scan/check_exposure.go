package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"regexp"
	"slices"
	"strings"
)

// reSensitive spots property names that should never leave a service.
var reSensitive = regexp.MustCompile(`(?i)pass(word|wd)?|secret|token|api_?key|private|ssn|social_security|credit_?card|card_?number|cvv|salt|hash|otp|mfa_seed`)

const (
	maxArrayItems  = 20 // elements of an array examined
	maxUndeclared  = 20 // names listed in a finding
	maxSchemaDepth = 32
)

// checkExposure is EXPO001, from the baselines: JSON properties the
// operation's response schema does not declare. Names only, never values.
func (s *scanner) checkExposure() {
	if s.api == nil {
		s.skipped("EXPO001", "needs --openapi")
		return
	}
	checked := 0
	for _, ep := range s.eps {
		ex := ep.best()
		if ep.op == nil || !is2xx(ex) || !isJSON(ex) {
			continue
		}
		sc := responseSchema(ep.op, ex.status)
		if sc == nil || sc.Unknown {
			continue
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(ex.body))
		dec.UseNumber()
		if dec.Decode(&v) != nil {
			continue
		}
		checked++
		var names []string
		undeclared(v, sc, "", &names, 0)
		if len(names) == 0 {
			continue
		}
		slices.Sort(names)
		names = slices.Compact(names)
		h := hit{rule: "EXPO001", ex: ex, key: ep.method + " " + ep.template}
		var sensitive []string
		for _, n := range names {
			if reSensitive.MatchString(n) {
				sensitive = append(sensitive, n)
			}
		}
		shown := names
		if len(shown) > maxUndeclared {
			shown = append(slices.Clone(shown[:maxUndeclared]), fmt.Sprintf("… %d more", len(names)-maxUndeclared))
		}
		h.message = fmt.Sprintf("%s %s returns %d propert%s its %d response schema does not declare: %s.", ep.method, ep.template,
			len(names), plural(len(names), "y", "ies"), ex.status, strings.Join(shown, ", "))
		h.proof = "undeclared properties (values not shown): " + strings.Join(shown, ", ")
		if len(sensitive) > 0 {
			h.override, h.severity = true, High
			h.message += " Sensitive-looking: " + strings.Join(sensitive, ", ") + "."
		}
		s.found(h)
	}
	if checked == 0 {
		s.skipped("EXPO001", "no successful JSON response with a declared response schema")
		return
	}
	s.tested("EXPO001")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func isJSON(ex *exchange) bool {
	mt, _, _ := mime.ParseMediaType(ex.header.Get("Content-Type"))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// responseSchema picks the schema for status: exact, then "2XX", then "default".
func responseSchema(op *Operation, status int) *Schema {
	for _, k := range []string{fmt.Sprint(status), fmt.Sprintf("%dXX", status/100), "DEFAULT"} {
		if sc, ok := op.Responses[k]; ok {
			return sc
		}
	}
	return nil
}

// view is what an object schema declares, composition resolved.
type view struct {
	props   map[string]*Schema
	open    bool // undeclared names allowed (additionalProperties true, or free-form)
	unknown bool
}

func objectView(sc *Schema, d int) view {
	v := view{props: map[string]*Schema{}}
	if sc == nil || sc.Unknown || d > maxSchemaDepth {
		v.unknown = true
		return v
	}
	declares := sc.Properties != nil
	for k, p := range sc.Properties {
		v.props[k] = p
	}
	if sc.AdditionalOK {
		v.open = true
	}
	for _, sub := range sc.AllOf {
		sv := objectView(sub, d+1)
		if sv.unknown {
			v.unknown = true
		}
		if sv.open {
			v.open = true
		}
		if len(sv.props) > 0 || sub.Properties != nil {
			declares = true
		}
		for k, p := range sv.props {
			if _, ok := v.props[k]; !ok {
				v.props[k] = p
			}
		}
	}
	// anyOf/oneOf: a name is declared if any alternative declares it.
	for _, sub := range append(slices.Clone(sc.AnyOf), sc.OneOf...) {
		sv := objectView(sub, d+1)
		if sv.unknown {
			v.unknown = true
		}
		if sv.open {
			v.open = true
		}
		declares = true
		for k, p := range sv.props {
			if _, ok := v.props[k]; !ok {
				v.props[k] = p
			}
		}
	}
	if !declares {
		v.open = true // {type: object} alone is a free-form object
	}
	return v
}

// undeclared appends the paths of properties in v that sc does not declare.
func undeclared(v any, sc *Schema, path string, out *[]string, d int) {
	if sc == nil || sc.Unknown || d > maxSchemaDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		ov := objectView(sc, d)
		if ov.unknown {
			return
		}
		for _, k := range sortedKeys(x) {
			ps, ok := ov.props[k]
			if !ok {
				if !ov.open {
					*out = append(*out, path+k)
				}
				continue
			}
			undeclared(x[k], ps, path+k+".", out, d+1)
		}
	case []any:
		items := sc.Items
		if items == nil {
			for _, sub := range sc.AllOf {
				if sub != nil && sub.Items != nil {
					items = sub.Items
				}
			}
		}
		for i, e := range x {
			if i == maxArrayItems {
				break
			}
			undeclared(e, items, path+"[].", out, d+1)
		}
	}
}

// maxMassOps bounds the mass-assignment probes.
const maxMassOps = 3

// injected are the undeclared properties a mass-assignment probe adds.
var injected = []struct {
	name  string
	value any
}{{"is_admin", true}, {"role", "admin"}, {"rampart_scan_probe", "rampart-mass-assignment-probe"}}

// checkMassAssignment is MASS001 (--allow-unsafe): a write with the
// required properties plus undeclared ones.
func (s *scanner) checkMassAssignment(ctx context.Context) {
	if !s.unsafeWithAPI("MASS001", "it sends POST/PUT/PATCH requests") {
		return
	}
	n, refusedAll := 0, true
	for _, op := range s.unsafe {
		if n == maxMassOps || s.out(ctx) {
			break
		}
		ov := objectView(op.Body, 0)
		if op.Body == nil || ov.unknown || ov.open || len(ov.props) == 0 {
			continue
		}
		body, _ := sample(op.Body, 0).(map[string]any)
		if body == nil {
			continue
		}
		var added []string
		for _, inj := range injected {
			if _, declared := ov.props[inj.name]; !declared {
				body[inj.name] = inj.value
				added = append(added, inj.name)
			}
		}
		if len(added) == 0 {
			continue
		}
		n++
		ex := s.send(ctx, s.writeRequest(op, body))
		if !refused(ex) {
			refusedAll = false
		}
		if !is2xx(ex) {
			continue
		}
		echoed := echoedProps(ex.body, body, added)
		f := hit{rule: "MASS001", ex: ex, key: op.Method + " " + op.Path, bodyAt: "*"}
		if len(echoed) > 0 {
			f.message = fmt.Sprintf("%s %s accepted undeclared properties (%s) and its response echoes %s: they were bound to the object.", op.Method, op.Path, strings.Join(added, ", "), strings.Join(echoed, ", "))
			f.proof = fmt.Sprintf("→ %d; response echoes %s", ex.status, strings.Join(echoed, ", "))
		} else {
			f.override, f.severity = true, Low
			f.message = fmt.Sprintf("%s %s accepted a body with undeclared properties (%s) without complaint; the response does not show them, so they may have been ignored (low).", op.Method, op.Path, strings.Join(added, ", "))
			f.proof = fmt.Sprintf("→ %d with undeclared properties %s", ex.status, strings.Join(added, ", "))
		}
		s.found(f)
	}
	if n == 0 {
		s.skipped("MASS001", "no POST/PUT/PATCH operation with a closed JSON object request schema")
		return
	}
	s.tested("MASS001")
	if refusedAll {
		s.partial("MASS001", "every write was refused with 401/403: give the scan a credential allowed to write to test this")
	}
}

// echoedProps lists injected names whose value comes back in the response
// (at the top level, or one object down: {"data": {...}}).
func echoedProps(respBody []byte, sent map[string]any, names []string) []string {
	var v any
	if json.Unmarshal(respBody, &v) != nil {
		return nil
	}
	objs := []map[string]any{}
	if m, ok := v.(map[string]any); ok {
		objs = append(objs, m)
		for _, e := range m {
			if inner, ok := e.(map[string]any); ok {
				objs = append(objs, inner)
			}
		}
	}
	var out []string
	for _, n := range names {
		want, _ := json.Marshal(sent[n])
		for _, o := range objs {
			if got, ok := o[n]; ok {
				if b, _ := json.Marshal(got); bytes.Equal(b, want) {
					out = append(out, n)
					break
				}
			}
		}
	}
	return out
}

// unsafeWithAPI reports whether a rule that writes can run: it needs
// --allow-unsafe (why says what it sends) and a document; else it is skipped.
func (s *scanner) unsafeWithAPI(rule, why string) bool {
	switch {
	case !s.opts.AllowUnsafe:
		s.skipped(rule, "needs --allow-unsafe ("+why+")")
		return false
	case s.api == nil:
		s.skipped(rule, "needs --openapi")
		return false
	}
	return true
}
