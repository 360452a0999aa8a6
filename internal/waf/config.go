package waf

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config/conf"
)

// Config is one entry of waf: — a policy of the OWASP Core Rule Set (CRS v4)
// on the Coraza engine that routes name with `waf: NAME`. It is compiled
// once per load and shared by the routes that name it.
type Config struct {
	Name string `yaml:"-"` // the entry's name under waf:, for errors, events and metrics
	// ParanoiaLevel is the CRS paranoia level, 1 to 4: higher levels run
	// more rules and catch more, at the price of more false positives.
	ParanoiaLevel int `yaml:"paranoia_level" default:"1" conf:"min=1,max=4"`
	// InboundThreshold is the CRS inbound anomaly score at which a request
	// is refused (a critical match scores 5, error 4, warning 3, notice 2).
	InboundThreshold int `yaml:"inbound_threshold" default:"5" conf:"min=1,max=1000"`
	// Mode is block (refuse with 403 request-blocked) or detect (never
	// refuse: log a waf_detected audit event and count it, for rollout).
	Mode string `yaml:"mode" default:"block" conf:"oneof=block|detect"`
	// ExcludeRules are CRS (or rules_file) rule ids that never run, such as
	// "942100"; each must be a rule of the loaded rule set.
	ExcludeRules []string `yaml:"exclude_rules" conf:"unique"`
	// ExcludeTags removes every rule with one of these tags, such as
	// "attack-sqli" or "language-php"; each must tag a loaded rule.
	ExcludeTags []string `yaml:"exclude_tags" conf:"unique"`
	// ExcludeTargets keep rules from looking at one part of the request,
	// such as a JSON field that legitimately holds HTML.
	ExcludeTargets []Target `yaml:"exclude_targets"`
	// NoDefaultExclusions turns off the built-in exclusions for JSON APIs
	// (see docs/waf.md).
	NoDefaultExclusions bool `yaml:"no_default_exclusions"`
	// InspectResponses runs the CRS's response rules (data leakage: SQL,
	// Java, PHP and IIS errors, web shells, directory listings) on the
	// upstream's answers. A textual body (JSON, XML, text) without a
	// Content-Encoding is held back until it is complete or reaches
	// max_response_bytes, so the client sees nothing of a refused answer;
	// other bodies are inspected by their status and headers only.
	InspectResponses bool `yaml:"inspect_responses"`
	// OutboundThreshold is the CRS outbound anomaly score at which an
	// answer is withheld (502 response-blocked), with inspect_responses.
	OutboundThreshold int `yaml:"outbound_threshold" default:"4" conf:"min=1,max=1000"`
	// MaxResponseBytes is the most of an answer's body held back and
	// inspected; the rest of a larger body is not inspected and streams
	// once its first max_response_bytes passed (as ModSecurity's
	// ProcessPartial). It bounds the memory of each inspected answer.
	MaxResponseBytes conf.Size `yaml:"max_response_bytes" default:"512KiB" conf:"min=1,max=64MiB"`
	// RulesFile is a file of extra SecLang directives (rules, exclusions),
	// loaded after the CRS; relative to the config file. Include is not
	// supported in it.
	RulesFile string `yaml:"rules_file"`
	// BaseDir resolves a relative rules_file (set by the gateway: the
	// config file's directory).
	BaseDir string `yaml:"-"`
	// MaxBodyBytes is server.max_body_bytes (set by the gateway): the CRS
	// request body limit is aligned with it.
	MaxBodyBytes int64 `yaml:"-"`
}

// Target is one entry of exclude_targets.
type Target struct {
	// Rule is a rule id ("942100") or a tag ("attack-xss") whose rules stop
	// looking at target.
	Rule string `yaml:"rule" conf:"required"`
	// Target is a SecLang variable with its key, such as
	// ARGS:json.description (a JSON body field), ARGS:q (a query
	// parameter) or REQUEST_HEADERS:referer.
	Target string `yaml:"target" conf:"required"`
}

// Validate checks what the tags cannot say: rule ids are numbers, targets
// are VARIABLE:key. Whether the ids and tags exist is checked against the
// loaded rule set when the policy compiles (New).
func (c *Config) Validate() []error {
	var errs []error
	for i, id := range c.ExcludeRules {
		if _, err := strconv.Atoi(id); err != nil {
			errs = append(errs, &conf.FieldError{Field: "exclude_rules", Index: i, Entry: "rule id", Got: true, Msg: "is not a rule id (a number)"})
		}
	}
	for i, t := range c.ExcludeTargets {
		if prob := targetProblem(t); prob != "" {
			errs = append(errs, &conf.FieldError{Field: "exclude_targets", Index: i, Msg: prob})
		}
	}
	return errs
}

// targetProblem says what is wrong with an exclude_targets entry, or "".
func targetProblem(t Target) string {
	name, key, ok := strings.Cut(t.Target, ":")
	switch {
	case strings.ContainsAny(t.Rule, " \t\"'\\,") || t.Rule == "":
		return fmt.Sprintf("rule must be a rule id or a tag without spaces or quotes")
	case !ok || key == "" || name == "":
		return "target must be VARIABLE:key, such as ARGS:json.description"
	case strings.ContainsAny(t.Target, " \t\"'\\|!,"):
		return "target must not contain spaces, quotes, |, ! or commas"
	case strings.ToUpper(name) != name:
		return "target's variable is upper case, such as ARGS or REQUEST_HEADERS"
	}
	return ""
}
