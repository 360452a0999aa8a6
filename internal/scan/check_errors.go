package scan

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// signature is a pattern that identifies error output.
type signature struct {
	name string
	re   *regexp.Regexp
}

func sig(name, pattern string) signature { return signature{name, regexp.MustCompile(pattern)} }

// stackSignatures identify stack traces and framework debug pages. Each is
// specific enough not to match ordinary API data.
var stackSignatures = []signature{
	sig("Python traceback", `Traceback \(most recent call last\):`),
	sig("Python stack frame", `File "[^"\n]{1,300}", line \d+, in [\w<>]+`),
	sig("Werkzeug debugger", `Werkzeug Debugger|The debugger caught an exception in your WSGI application`),
	sig("Django debug page", `You're seeing this error because you have <code>DEBUG = True</code>|You're seeing this error because you have DEBUG = True`),
	sig("Java stack frame", `\bat [a-zA-Z_$][\w$]*(?:\.[\w$<>]+)+\([\w$]+\.(?:java|kt|scala|groovy):\d+\)`),
	sig("Java uncaught exception", `Exception in thread "[^"]{1,100}" [\w.$]+(?:Exception|Error)`),
	sig(".NET stack frame", `\bat [\w.<>`+"`"+`]+\([^)\n]{0,200}\) in [^\n]{1,300}:line \d+`),
	sig("ASP.NET error page", `Server Error in '[^']{0,100}' Application`),
	sig("Node.js stack frame", `\bat (?:[\w$.<>\[\] ]{1,200} )?\((?:/|[A-Za-z]:\\|node:)[^)\s]{1,300}:\d+:\d+\)`),
	sig("Go panic", `goroutine \d+ \[running\]:`),
	sig("PHP error", `(?:Fatal error|Parse error|Uncaught [\w\\]+)(?:</b>)?:[^\n]{0,400} in (?:<b>)?[\w/\\.-]+\.php(?:</b>)? on line (?:<b>)?\d+`),
	sig("Ruby stack frame", `(?m)^\s*(?:/[\w/.-]+|app/[\w/.-]+)\.rb:\d+:in [`+"`"+`']`),
	sig("Rails debug page", `Action Controller: Exception caught`),
	sig("Laravel/Whoops debug page", `Whoops, looks like something went wrong|Illuminate\\[\w\\]+Exception`),
}

// sqlSignatures identify database and ORM error text.
var sqlSignatures = []signature{
	sig("MySQL syntax error", `You have an error in your SQL syntax`),
	sig("SQLSTATE code", `SQLSTATE\[\w{5}\]`),
	sig("Oracle error", `\bORA-\d{5}\b`),
	sig("PostgreSQL error", `PG::\w+Error|\bpq: [a-z]|Npgsql\.PostgresException|unterminated quoted string at or near|syntax error at or near "`),
	sig("psycopg error", `\bpsycopg2?\.(?:errors\.)?\w*(?:Error|Exception)\b`),
	sig("SQLite error", `sqlite3\.\w*Error|SQLITE_ERROR|near "[^"\n]{0,50}": syntax error|unrecognized token: "`),
	sig("SQLAlchemy error", `sqlalchemy\.exc\.\w+`),
	sig("Django database error", `django\.db\.utils\.\w+`),
	sig("JDBC error", `java\.sql\.SQL\w*Exception|SQLSyntaxErrorException|com\.mysql\.(?:cj\.)?jdbc`),
	sig("Hibernate error", `org\.hibernate\.[\w.]*Exception`),
	sig("Sequelize error", `SequelizeDatabaseError`),
	sig("ActiveRecord error", `ActiveRecord::StatementInvalid`),
	sig("PDO error", `PDOException`),
	sig("SQL Server error", `Unclosed quotation mark after the character string|Microsoft OLE DB Provider for (?:SQL Server|ODBC)|System\.Data\.SqlClient\.SqlException|Incorrect syntax near`),
}

// sqlSyntax identifies a syntax error: what a stray quote produces.
var sqlSyntax = regexp.MustCompile(`You have an error in your SQL syntax|unterminated quoted string at or near|syntax error at or near|Unclosed quotation mark after the character string|quoted string not properly terminated|near "[^"\n]{0,50}": syntax error|unrecognized token: "|Incorrect syntax near|PG::SyntaxError|psycopg2?\.errors\.SyntaxError|SQLSyntaxErrorException|SQLSTATE\[42000\]|SQLSTATE\[42601\]|ORA-0(?:0933|1756|0907)`)

// credentialSignatures identify secrets in bodies.
var credentialSignatures = []signature{
	sig("connection URL with a password", `\b[a-zA-Z][a-zA-Z0-9+.-]{1,20}://[^\s:/@"'<>]{1,100}:[^\s@/"'<>*]{1,200}@[\w.-]+(?::\d{1,5})?(?:/[\w.-]{0,100})?`),
	sig("private key", `-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----`),
	sig("AWS access key id", `\b(?:AKIA|ASIA)[0-9A-Z]{16}\b`),
}

func firstMatch(sigs []signature, body string) (signature, string, bool) {
	for _, sg := range sigs {
		if m := sg.re.FindString(body); m != "" {
			return sg, m, true
		}
	}
	return signature{}, "", false
}

// errorDisclosure is the passive half of ERR001, ERR002 and ERR004.
func (s *scanner) errorDisclosure(ex *exchange) {
	if len(ex.body) == 0 {
		return
	}
	body := string(ex.body)
	what := describe(ex)
	if sg, m, ok := firstMatch(stackSignatures, body); ok {
		s.found(hit{rule: "ERR001", ex: ex, bodyAt: m,
			message: fmt.Sprintf("%s answered %d with a %s%s.", reqLine(s, ex), ex.status, sg.name, what),
			proof:   firstLine(m)})
	}
	if sg, m, ok := firstMatch(sqlSignatures, body); ok {
		s.found(hit{rule: "ERR002", ex: ex, bodyAt: m,
			message: fmt.Sprintf("%s answered %d with %s text%s.", reqLine(s, ex), ex.status, sg.name, what),
			proof:   firstLine(lineAround(body, m))})
	}
	if sg, m, ok := firstMatch(credentialSignatures, body); ok {
		s.found(hit{rule: "ERR004", ex: ex, bodyAt: m,
			message: fmt.Sprintf("%s answered %d with a %s in the body (redacted here); treat it as leaked and rotate it.", reqLine(s, ex), ex.status, sg.name),
			proof:   m})
	}
}

func describe(ex *exchange) string {
	if ex.req.kind == kindProbe && ex.req.method == http.MethodGet {
		return " (to a malformed request)"
	}
	return ""
}

func reqLine(s *scanner, ex *exchange) string {
	return ex.req.method + " " + s.red.url(ex.url)
}

func firstLine(m string) string {
	line, _, _ := strings.Cut(m, "\n")
	return clip(strings.TrimSpace(line), 300)
}

// lineAround is the whole line of body holding m (bounded).
func lineAround(body, m string) string {
	i := strings.Index(body, m)
	if i < 0 {
		return m
	}
	start := strings.LastIndexByte(body[:i], '\n') + 1
	end := strings.IndexByte(body[i:], '\n')
	if end < 0 {
		end = len(body)
	} else {
		end += i
	}
	if i-start > 200 {
		start = i - 200
	}
	if end-i > 300 {
		end = i + 300
	}
	return strings.ToValidUTF8(body[start:end], "")
}

// maxErrorEndpoints bounds the malformed-input probes.
const maxErrorEndpoints = 10

// checkErrors sends malformed input (a quote in each parameter, a wrong
// type in path parameters) to up to maxErrorEndpoints operations, and
// judges ERR003 by comparing with the baseline; ERR001/002/004 are judged
// passively on every response.
func (s *scanner) checkErrors(ctx context.Context) {
	s.tested("ERR001", "ERR002", "ERR004")
	n := 0
	for _, ep := range s.eps {
		if n == maxErrorEndpoints || s.out(ctx) {
			break
		}
		base := ep.best()
		if base == nil {
			continue
		}
		n++
		for _, p := range s.malformed(ep) {
			ex := s.sendLike(ctx, ep, ep.method, p.target, nil, kindProbe)
			if ex == nil {
				continue
			}
			if m := sqlSyntax.FindString(string(ex.body)); m != "" && !sqlSyntax.Match(base.body) {
				s.found(hit{rule: "ERR003", ex: ex, baseline: base, bodyAt: m, key: ep.method + " " + ep.template,
					message: fmt.Sprintf("A quote in %s turns the answer of %s %s into a SQL syntax error: the value is likely concatenated into SQL.", p.where, ep.method, ep.template),
					proof:   firstLine(lineAround(string(ex.body), m))})
			} else if base.status < 500 && ex.status >= 500 && p.with != nil {
				s.balancedQuotes(ctx, ep, base, p)
			}
		}
	}
	if n == 0 {
		s.skipped("ERR003", "no operation answered to compare against")
		return
	}
	s.tested("ERR003", "ERR005")
	if s.api == nil {
		s.partial("ERR003", "no OpenAPI document: only the target URL was probed, with an invented id parameter")
	}
}

// balancedQuotes is ERR005: the quote probe turned a normal answer into a
// 5xx without error text. One quote must break it again and two quotes (a
// balanced, escaped quote in SQL) must not: the parity of quotes matters,
// which is what a value spliced into a query looks like.
func (s *scanner) balancedQuotes(ctx context.Context, ep *endpoint, base *exchange, p malformedProbe) {
	one := s.sendLike(ctx, ep, ep.method, p.with(p.value+"'"), nil, kindProbe)
	if one == nil || one.status < 500 {
		return
	}
	two := s.sendLike(ctx, ep, ep.method, p.with(p.value+"''"), nil, kindProbe)
	if two == nil || two.status >= 500 {
		return
	}
	s.found(hit{rule: "ERR005", ex: one, baseline: two, key: ep.method + " " + ep.template,
		message: fmt.Sprintf("One quote in %s turns the answer of %s %s from %d into %d, and two quotes answer %d again: the value is likely spliced into a query (no error text was shown, so this is not proof).",
			p.where, ep.method, ep.template, base.status, one.status, two.status),
		proof: fmt.Sprintf("%s → %d; one quote → %d; two quotes → %d", p.where, base.status, one.status, two.status)})
}

// malformedProbe is one quote probe. with, when set, builds the same
// target with another raw (escaped) value of the parameter, which was value.
type malformedProbe struct {
	target, where string
	value         string
	with          func(raw string) string
}

// quote is what the probes inject: a single and a double quote.
const quote = `rampart'"`

// malformed lists probes for ep: each query parameter (or an invented "id")
// with a quote, and each path parameter with a quote.
func (s *scanner) malformed(ep *endpoint) []malformedProbe {
	q := url.QueryEscape(quote)
	if ep.op == nil {
		with := func(raw string) string { return withQuery(ep.target, "id="+raw) }
		return []malformedProbe{{target: with(q), where: "the query parameter id", value: "1", with: with}}
	}
	var out []malformedProbe
	hasQuery := false
	filler := func(key string) func(string) string {
		return func(raw string) string { return s.fill(ep.op, map[string]string{key: raw}) }
	}
	for _, p := range ep.op.Params {
		switch p.In {
		case "query":
			hasQuery = true
			if len(out) < 3 {
				with := filler("query:" + p.Name)
				out = append(out, malformedProbe{target: with(q), where: "the query parameter " + p.Name, value: url.QueryEscape(paramValue(p)), with: with})
			}
		case "path":
			// A quote is a valid path character; the double quote is escaped.
			with := filler("path:" + p.Name)
			out = append(out, malformedProbe{target: with("1'%22"), where: "the path parameter " + p.Name, value: url.PathEscape(paramValue(p)), with: with})
		}
	}
	if !hasQuery {
		with := filler("query:id")
		out = append(out, malformedProbe{target: with(q), where: "an id query parameter", value: "1", with: with})
	}
	return out
}
