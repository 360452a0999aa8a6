package waf

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseResultReadsBackError(t *testing.T) {
	in := &Result{Policy: "api", Blocked: true, Score: 10, Rules: []int{942100, 942190}, Variables: []string{"ARGS:json.name", "ARGS:q"}, Excerpt: "x' UNION SE…"}
	out, ok := ParseResult(in.Error())
	if !ok || out.Policy != "api" || out.Score != 10 || !reflect.DeepEqual(out.Rules, in.Rules) || !reflect.DeepEqual(out.Variables, in.Variables) {
		t.Fatalf("ParseResult(%q) = %+v, %v", in.Error(), out, ok)
	}
}

const sampleLog = `{"time":"t","level":"WARN","msg":"audit","event":"rejected","reason":"request-blocked","status":403,"step":"waf","route":"users","error":"waf api: score 10; rules 942100,942190; variables ARGS:json.name"}
{"time":"t","level":"INFO","msg":"audit","event":"waf_detected","waf":"api","mode":"detect","would_block":false,"score":3,"rules":[942100],"variables":["ARGS:json.description"],"route":"posts"}
{"time":"t","level":"INFO","msg":"access","status":200,"route":"posts"}
not json at all, waf
{"time":"t","level":"INFO","msg":"audit","event":"waf_detected","waf":"api","would_block":true,"score":5,"rules":[920350],"variables":["REQUEST_HEADERS:Host"],"route":"users"}
`

func TestReportCountsRulesAndSuggestsExclusions(t *testing.T) {
	rules, events, err := Report(strings.NewReader(sampleLog))
	if err != nil {
		t.Fatal(err)
	}
	if events != 3 || len(rules) != 3 {
		t.Fatalf("events %d, rules %d; want 3 and 3", events, len(rules))
	}
	top := rules[0]
	if top.Rule != 942100 || top.Count != 2 || top.Blocked != 1 || !reflect.DeepEqual(top.Routes, []string{"users", "posts"}) {
		t.Errorf("top rule = %+v", top)
	}
	var out bytes.Buffer
	WriteReport(&out, rules, events)
	for _, want := range []string{`- { rule: "942100", target: "ARGS:json.description" }`, "rule 942190: 1 requests", `target: "REQUEST_HEADERS:Host"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

func FuzzParseResult(f *testing.F) {
	f.Add("waf api: score 10; rules 942100,942190; variables ARGS:json.name; excerpt \"x\"")
	f.Add("waf : ; ;")
	f.Fuzz(func(t *testing.T, s string) {
		res, ok := ParseResult(s)
		if ok && len(res.Rules) == 0 {
			t.Fatal("ok without rules")
		}
	})
}

func FuzzReport(f *testing.F) {
	f.Add(sampleLog)
	f.Fuzz(func(t *testing.T, s string) {
		rules, _, err := Report(strings.NewReader(s))
		if err != nil {
			return
		}
		var out bytes.Buffer
		WriteReport(&out, rules, 0)
	})
}

// Withheld answers (inspect_responses) are read back too, as response
// results, and suggest excluding the rule (RESPONSE_BODY is no request
// field to exclude).
func TestReportReadsWithheldAnswers(t *testing.T) {
	in := &Result{Policy: "api", Blocked: true, Response: true, Score: 5, Rules: []int{951230}, Variables: []string{"RESPONSE_BODY"}}
	out, ok := ParseResult(in.Error())
	if !ok || out.Policy != "api" || !out.Response || !reflect.DeepEqual(out.Rules, in.Rules) {
		t.Fatalf("ParseResult(%q) = %+v, %v", in.Error(), out, ok)
	}
	line := `{"msg":"audit","event":"rejected","reason":"response-blocked","status":502,"step":"waf","route":"users","error":` + strconv.Quote(in.Error()) + "}\n"
	rules, events, err := Report(strings.NewReader(line))
	if err != nil || events != 1 || len(rules) != 1 || rules[0].Rule != 951230 || rules[0].Blocked != 1 || rules[0].Policies[0] != "api" {
		t.Fatalf("report = %+v (%d events, %v)", rules, events, err)
	}
	var w bytes.Buffer
	WriteReport(&w, rules, events)
	if !strings.Contains(w.String(), `exclude_rules: ["951230"]`) {
		t.Errorf("report:\n%s", w.String())
	}
}
