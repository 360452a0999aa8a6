package scan

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON (the documented shape: see Report).
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(rep)
}

// TextOptions tune WriteText.
type TextOptions struct {
	Color bool // ANSI colours (only for terminals)
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// WriteText writes a report for people: findings grouped by severity (worst
// first), then what was not or only partly tested, then notes.
func WriteText(w io.Writer, rep *Report, opts TextOptions) error {
	bw := bufio.NewWriter(w)
	paint := func(code, s string) string {
		if !opts.Color {
			return s
		}
		return code + s + ansiReset
	}
	fmt.Fprintf(bw, "%s %s\n", paint(ansiBold, "rampart scan"), rep.Target)
	if rep.OpenAPI != nil {
		fmt.Fprintf(bw, "  openapi   %s (OpenAPI %s, %d operations)\n", rep.OpenAPI.Source, rep.OpenAPI.Version, rep.OpenAPI.Operations)
	} else {
		fmt.Fprintf(bw, "  openapi   none\n")
	}
	fmt.Fprintf(bw, "  requests  %d sent (budget %d, at most %s), %d without a response\n",
		rep.Requests.Sent, rep.Requests.Budget, rateText(rep.Requests.Rate), rep.Requests.Errors)
	colors := map[Severity]string{High: ansiRed + ansiBold, Medium: ansiYellow + ansiBold, Low: ansiCyan, Info: ansiDim}
	for sev := High; sev >= Info; sev-- {
		var group []Finding
		for _, f := range rep.Findings {
			if f.Severity == sev {
				group = append(group, f)
			}
		}
		if len(group) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n%s (%d)\n", paint(colors[sev], strings.ToUpper(sev.String())), len(group))
		for _, f := range group {
			fmt.Fprintf(bw, "  %s %s  [%s, %s]\n", paint(colors[sev], fmt.Sprintf("%-8s", f.Rule)), f.Title, strings.SplitN(f.OWASP, " ", 2)[0], f.CWE)
			if f.Location != "" {
				status := ""
				if f.Evidence.Response != nil {
					status = fmt.Sprintf(" → %d", f.Evidence.Response.Status)
				}
				fmt.Fprintf(bw, "           %s %s%s\n", f.Method, f.Location, status)
			}
			fmt.Fprintf(bw, "           %s\n", f.Message)
			fmt.Fprintf(bw, "           %s %s\n", paint(ansiDim, "proof:"), indent(f.Evidence.Proof, "                  "))
			fmt.Fprintf(bw, "           %s   %s\n", paint(ansiDim, "fix:"), f.Remediation)
			fmt.Fprintf(bw, "           %s\n", paint(ansiDim, "rampart:"))
			fmt.Fprintf(bw, "             %s\n", indent(f.Rampart, "             "))
		}
	}
	if len(rep.Findings) == 0 {
		fmt.Fprintf(bw, "\nNo findings.\n")
	}
	for _, status := range []string{Skipped, Partial} {
		title := "Not tested"
		if status == Partial {
			title = "Tested with limits"
		}
		first := true
		for _, c := range rep.Coverage {
			if c.Status != status {
				continue
			}
			if first {
				fmt.Fprintf(bw, "\n%s\n", paint(ansiBold, title))
				first = false
			}
			fmt.Fprintf(bw, "  %-8s %s: %s\n", c.Rule, RuleByID(c.Rule).Name, strings.Join(c.Notes, "; "))
		}
	}
	skippedNote := map[string]bool{}
	if len(rep.Skipped) > 0 {
		fmt.Fprintf(bw, "\n%s\n", paint(ansiBold, "Operations not sent"))
		for _, k := range rep.Skipped {
			fmt.Fprintf(bw, "  %-7s %s: %s\n", k.Method, k.Path, k.Reason)
			skippedNote[k.note()] = true
		}
	}
	var notes []string
	for _, n := range rep.Notes {
		if !skippedNote[n] { // already listed above
			notes = append(notes, n)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(bw, "\n%s\n", paint(ansiBold, "Notes"))
		for _, n := range notes {
			fmt.Fprintf(bw, "  - %s\n", n)
		}
	}
	s := rep.Summary
	fmt.Fprintf(bw, "\n%d high, %d medium, %d low, %d info\n", s.High, s.Medium, s.Low, s.Info)
	return bw.Flush()
}

func indent(s, prefix string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix)
}

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), the subset
// code-scanning services read.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Invocations []sarifInvocation `json:"invocations"`
	Results     []sarifResult     `json:"results"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	StartTimeUTC        string `json:"startTimeUtc"`
	EndTimeUTC          string `json:"endTimeUtc"`
	// The report's notes (operations skipped, credential lost, budget hit).
	Notifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level   string    `json:"level"`
	Message sarifText `json:"message"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           sarifRuleProps `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Tags             []string `json:"tags"`
	SecuritySeverity string   `json:"security-severity"`
	Precision        string   `json:"precision"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	WebRequest          *sarifWebRequest  `json:"webRequest,omitempty"`
	WebResponse         *sarifWebResponse `json:"webResponse,omitempty"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifWebRequest struct {
	Method  string            `json:"method"`
	Target  string            `json:"target"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    *sarifBody        `json:"body,omitempty"`
}

type sarifWebResponse struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers,omitempty"`
	Body       *sarifBody        `json:"body,omitempty"`
}

type sarifBody struct {
	Text string `json:"text"`
}

// WriteSARIF writes the report as a SARIF 2.1.0 log: one run, every rule in
// tool.driver.rules, one result per finding located at its request URL.
func WriteSARIF(w io.Writer, rep *Report) error {
	driver := sarifDriver{Name: "rampart scan", Version: rep.Tool.Version,
		InformationURI: "https://github.com/rampart-gw/rampart", Rules: []sarifRule{}}
	for _, r := range Rules {
		owaspID := strings.SplitN(r.OWASP, ":", 2)[0]
		help := r.Remediation + "\n\nRampart:\n" + r.Rampart
		driver.Rules = append(driver.Rules, sarifRule{
			ID: r.ID, Name: r.Name,
			ShortDescription:     sarifText{Text: r.Title},
			FullDescription:      sarifText{Text: r.Description},
			Help:                 sarifText{Text: help, Markdown: r.Remediation + "\n\n**Rampart:**\n\n```yaml\n" + r.Rampart + "\n```"},
			DefaultConfiguration: sarifConfig{Level: r.Severity.sarifLevel()},
			Properties: sarifRuleProps{
				Tags:             []string{"security", "external/cwe/cwe-" + fmt.Sprint(r.CWE), "owasp-api-2023/" + strings.ToLower(owaspID)},
				SecuritySeverity: r.Severity.securitySeverity(),
				Precision:        "high",
			},
		})
	}
	results := []sarifResult{}
	for _, f := range rep.Findings {
		// Fingerprint on rule, method and path: stable across hosts and
		// ports, so code-scanning UIs track one finding across runs.
		sum := sha256.Sum256([]byte(f.Rule + "\x00" + f.Method + "\x00" + pathOf(f.Location)))
		res := sarifResult{
			RuleID: f.Rule, RuleIndex: ruleIndex(f.Rule), Level: f.Severity.sarifLevel(),
			Message:             sarifText{Text: f.Message + " Proof: " + f.Evidence.Proof},
			Locations:           []sarifLocation{{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.Location}}}},
			PartialFingerprints: map[string]string{"rampartFinding/v1": hex.EncodeToString(sum[:16])},
			Properties:          map[string]any{"severity": f.Severity.String(), "owasp": f.OWASP, "cwe": f.CWE},
		}
		if f.Method != "TLS" {
			req := f.Evidence.Request
			res.WebRequest = &sarifWebRequest{Method: req.Method, Target: req.URL, Headers: req.Headers}
			if req.Body != "" {
				res.WebRequest.Body = &sarifBody{Text: req.Body}
			}
			if resp := f.Evidence.Response; resp != nil {
				res.WebResponse = &sarifWebResponse{StatusCode: resp.Status, Headers: resp.Headers}
				if resp.Body != "" {
					res.WebResponse.Body = &sarifBody{Text: resp.Body}
				}
			}
		}
		results = append(results, res)
	}
	var notes []sarifNotification
	for _, n := range rep.Notes {
		notes = append(notes, sarifNotification{Level: "note", Message: sarifText{Text: n}})
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results,
			Invocations: []sarifInvocation{{ExecutionSuccessful: true,
				StartTimeUTC: rep.StartedAt.UTC().Format("2006-01-02T15:04:05Z"), EndTimeUTC: rep.FinishedAt.UTC().Format("2006-01-02T15:04:05Z"),
				Notifications: notes}}}},
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}

// pathOf is the path and query of a URL string ("" for none).
func pathOf(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		raw = raw[i+3:]
		if j := strings.IndexByte(raw, '/'); j >= 0 {
			return raw[j:]
		}
		return "/"
	}
	return raw
}
