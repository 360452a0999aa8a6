package waf

// defaultExclusion is one built-in exclusion for JSON APIs (see
// docs/waf.md for why each is there).
type defaultExclusion struct {
	id        int
	directive string
}

// defaultExclusions are on unless no_default_exclusions. Each names the
// rule it changes, so a rule set without it skips it.
var defaultExclusions = []defaultExclusion{}
