package waf

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// RuleReport is what the audit log says about one rule.
type RuleReport struct {
	Rule      int
	Policies  []string
	Count     int      // requests it matched
	Blocked   int      // of which were refused (or would have been, in detect mode)
	Routes    []string // the routes it matched on (at most maxSamples)
	Variables []string // sample matched variables (at most maxSamples)
}

const maxSamples = 5

// Report reads an audit log (JSON lines, as the gateway writes them) and
// lists the rules that fired, most frequent first: waf_detected events
// (detect mode, or matches under the threshold) and request-blocked and
// response-blocked rejections. Lines that are not such events are skipped; so are lines
// longer than 1 MiB.
func Report(r io.Reader) ([]*RuleReport, int, error) {
	byRule := map[int]*RuleReport{}
	events := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var ev struct {
			Event, Reason, Error, Route, WAF string
			WouldBlock                       bool `json:"would_block"`
			Rules                            []int
			Variables                        []string
		}
		line := sc.Bytes()
		if !strings.Contains(string(line), "waf") || json.Unmarshal(line, &ev) != nil {
			continue
		}
		switch {
		case ev.Event == "waf_detected":
		case ev.Event == "rejected" && (ev.Reason == "request-blocked" || ev.Reason == "response-blocked"):
			res, ok := ParseResult(ev.Error)
			if !ok {
				continue
			}
			ev.WAF, ev.Rules, ev.Variables, ev.WouldBlock = res.Policy, res.Rules, res.Variables, true
		default:
			continue
		}
		events++
		for _, id := range ev.Rules {
			rr := byRule[id]
			if rr == nil {
				rr = &RuleReport{Rule: id}
				byRule[id] = rr
			}
			rr.Count++
			if ev.WouldBlock {
				rr.Blocked++
			}
			rr.Policies = addSample(rr.Policies, ev.WAF, 100)
			rr.Routes = addSample(rr.Routes, ev.Route, maxSamples)
			for _, v := range ev.Variables {
				rr.Variables = addSample(rr.Variables, v, maxSamples)
			}
		}
	}
	if err := sc.Err(); err != nil && err != bufio.ErrTooLong {
		return nil, events, err
	}
	out := make([]*RuleReport, 0, len(byRule))
	for _, rr := range byRule {
		out = append(out, rr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Rule < out[j].Rule
	})
	return out, events, nil
}

func addSample(list []string, s string, n int) []string {
	if s == "" || len(list) >= n {
		return list
	}
	for _, v := range list {
		if v == s {
			return list
		}
	}
	return append(list, s)
}

// ParseResult reads back Result.Error's text.
func ParseResult(s string) (*Result, bool) {
	rest, ok := strings.CutPrefix(s, "waf ")
	if !ok {
		return nil, false
	}
	name, rest, ok := strings.Cut(rest, ": ")
	if !ok {
		return nil, false
	}
	res := &Result{Policy: name, Blocked: true}
	if n, ok := strings.CutSuffix(name, " (response)"); ok {
		res.Policy, res.Response = n, true
	}
	for _, part := range strings.Split(rest, "; ") {
		key, val, _ := strings.Cut(part, " ")
		switch key {
		case "score":
			res.Score, _ = strconv.Atoi(val)
		case "rules":
			for _, f := range strings.Split(val, ",") {
				if id, err := strconv.Atoi(f); err == nil {
					res.Rules = append(res.Rules, id)
				}
			}
		case "variables":
			if val != "" {
				res.Variables = strings.Split(val, ",")
			}
		}
	}
	return res, len(res.Rules) > 0
}

// WriteReport writes rules as text, each with a suggested exclusion: by
// target when it matched named request fields, by id otherwise.
func WriteReport(w io.Writer, rules []*RuleReport, events int) {
	fmt.Fprintf(w, "%d WAF events, %d rules fired\n", events, len(rules))
	for _, rr := range rules {
		fmt.Fprintf(w, "\nrule %d: %d requests (%d blocked or would be), policies %s\n", rr.Rule, rr.Count, rr.Blocked, strings.Join(rr.Policies, ", "))
		fmt.Fprintf(w, "  routes:    %s\n", strings.Join(rr.Routes, ", "))
		fmt.Fprintf(w, "  variables: %s\n", strings.Join(rr.Variables, ", "))
		policy := "POLICY"
		if len(rr.Policies) == 1 {
			policy = rr.Policies[0]
		}
		fmt.Fprintf(w, "  if legitimate, exclude it (waf: %s:):\n", policy)
		var targets []string
		for _, v := range rr.Variables {
			if strings.HasPrefix(v, "ARGS") || strings.HasPrefix(v, "REQUEST_HEADERS:") || strings.HasPrefix(v, "REQUEST_COOKIES:") {
				targets = append(targets, v)
			}
		}
		if len(targets) == 0 {
			fmt.Fprintf(w, "    exclude_rules: [%q]\n", strconv.Itoa(rr.Rule))
			continue
		}
		fmt.Fprintln(w, "    exclude_targets:")
		for _, t := range targets {
			fmt.Fprintf(w, "      - { rule: %q, target: %q }\n", strconv.Itoa(rr.Rule), t)
		}
	}
}
