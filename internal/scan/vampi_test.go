package scan

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

// vampiFlaws are the nine flaws VAmPI documents, each switchable, so one
// composite API serves the per-rule tests (one flaw on, the rest fixed)
// and the whole-scan test (all on).
type vampiFlaws struct {
	sqli           bool // GET /users/v1/{username}: the name is spliced into SQL (errors masked)
	passwordChange bool // PUT /users/v1/{username}/password: anyone's password, with any token
	bola           bool // GET /books/v1/{book_title}: any user's book and its secret
	massAssign     bool // POST /users/v1/register: "admin": true is bound
	debug          bool // GET /users/v1/_debug: every user with their password
	enumBody       bool // login: "Username does not exist" vs "Password is not correct"
	enumTiming     bool // login: the password hash is computed only for existing users
	redos          bool // PUT /users/v1/{username}/email: a backtracking e-mail regex
	noRateLimit    bool // no limit, and none advertised
	weakKey        bool // tokens signed with "random" (VAmPI's own SECRET_KEY)
}

func allVampiFlaws() vampiFlaws {
	return vampiFlaws{sqli: true, passwordChange: true, bola: true, massAssign: true, debug: true,
		enumBody: true, redos: true, noRateLimit: true, weakKey: true}
}

const (
	vampiWeakKey   = "random"
	vampiStrongKey = "vampi-fixed-3c5e0f8a9b7d4e21a6c0f9e8d7b6a5c4"
	// vampiSlow is how long the backtracking regex takes on a crafted
	// value, and vampiHashTime the password check of an existing user:
	// far above the scan's thresholds (500ms and 10×; 100ms and 2×), so a
	// loaded test machine slowing the fast answers cannot hide them.
	vampiSlow     = 2 * time.Second
	vampiHashTime = time.Second
)

type vampiUser struct {
	password, email string
	admin           bool
}

type vampiBook struct{ owner, secret string }

// vampi is the composite API: a Flask app's routes, in Go.
type vampi struct {
	f   vampiFlaws
	key string

	mu       sync.Mutex
	users    map[string]*vampiUser
	books    map[string]*vampiBook
	requests []string // "METHOD /path" of every request, in order
	routes   *http.ServeMux
}

func newVampi(f vampiFlaws) *vampi {
	v := &vampi{f: f, key: vampiStrongKey}
	if f.weakKey {
		v.key = vampiWeakKey
	}
	v.seed()
	v.routes = v.mux()
	return v
}

func (v *vampi) seed() {
	v.users = map[string]*vampiUser{
		"name1": {password: "pass1", email: "mail1@mail.com"},
		"name2": {password: "pass2", email: "mail2@mail.com"},
		"admin": {password: "pass3", email: "admin@mail.com", admin: true},
	}
	v.books = map[string]*vampiBook{
		"bookTitle77": {owner: "name1", secret: "name1's secret"},
		"bookTitle88": {owner: "name2", secret: "name2's secret"},
	}
}

// token mints an HS256 token for user with the API's key.
func (v *vampi) token(user string) string {
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT"})
	c, _ := json.Marshal(map[string]any{"sub": user, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	mac := hmac.New(sha256.New, []byte(v.key))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

// subject verifies the bearer token and returns its user, or "".
func (v *vampi) subject(r *http.Request) string {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	mac := hmac.New(sha256.New, []byte(v.key))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := enc.DecodeString(parts[2])
	hb, _ := enc.DecodeString(parts[0])
	var hdr map[string]any
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) || json.Unmarshal(hb, &hdr) != nil || hdr["alg"] != "HS256" {
		return ""
	}
	cb, _ := enc.DecodeString(parts[1])
	var claims struct {
		Sub string  `json:"sub"`
		Exp float64 `json:"exp"`
	}
	if json.Unmarshal(cb, &claims) != nil || time.Unix(int64(claims.Exp), 0).Before(time.Now()) {
		return ""
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.users[claims.Sub] == nil {
		return "" // the user is gone (a re-seeded database)
	}
	return claims.Sub
}

// calls returns the requests received so far.
func (v *vampi) calls() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.requests...)
}

// decode reads a JSON object, refusing unknown properties unless lax.
func decode(r *http.Request, dst any, lax bool) bool {
	dec := json.NewDecoder(r.Body)
	if !lax {
		dec.DisallowUnknownFields()
	}
	return dec.Decode(dst) == nil
}

func (v *vampi) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	v.mu.Lock()
	v.requests = append(v.requests, r.Method+" "+r.URL.Path)
	v.mu.Unlock()
	if !v.f.noRateLimit {
		w.Header().Set("RateLimit-Policy", `"default";q=100;w=60`)
	}
	v.routes.ServeHTTP(w, r)
}

func (v *vampi) mux() *http.ServeMux {
	mux := http.NewServeMux()
	msg := func(w http.ResponseWriter, status int, text string) {
		writeJSON(w, status, map[string]string{"status": map[bool]string{true: "success", false: "fail"}[status < 300], "message": text})
	}
	authed := func(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			user := v.subject(r)
			if user == "" {
				msg(w, 401, "Invalid token. Please log in again.")
				return
			}
			next(w, r, user)
		}
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { msg(w, 200, "VAmPI the Vulnerable API") })
	mux.HandleFunc("GET /createdb", func(w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		v.seed()
		v.users = map[string]*vampiUser{} // VAmPI drops everything; the scan's users with it
		v.mu.Unlock()
		msg(w, 200, "Database populated.")
	})
	mux.HandleFunc("GET /users/v1", func(w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		defer v.mu.Unlock()
		out := []map[string]any{}
		for _, name := range sortedKeys(v.users) {
			out = append(out, map[string]any{"username": name, "email": v.users[name].email})
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("GET /users/v1/_debug", func(w http.ResponseWriter, r *http.Request) {
		if !v.f.debug {
			msg(w, 404, "not found")
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		out := []map[string]any{}
		for _, name := range sortedKeys(v.users) {
			u := v.users[name]
			out = append(out, map[string]any{"username": name, "email": u.email, "password": u.password, "admin": u.admin})
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("POST /users/v1/register", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Username, Password, Email string
			Admin                     bool `json:"admin"`
		}
		if !decode(r, &in, v.f.massAssign) || in.Username == "" || in.Password == "" {
			msg(w, 400, "Invalid request")
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.users[in.Username] != nil {
			msg(w, 400, "User already exists. Please Log in.")
			return
		}
		v.users[in.Username] = &vampiUser{password: in.Password, email: in.Email, admin: in.Admin && v.f.massAssign}
		msg(w, 200, "Successfully registered. Login to receive an auth token.")
	})
	mux.HandleFunc("POST /users/v1/login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Username, Password string }
		if !decode(r, &in, false) {
			msg(w, 400, "Invalid request")
			return
		}
		v.mu.Lock()
		u := v.users[in.Username]
		v.mu.Unlock()
		if u != nil && v.f.enumTiming {
			time.Sleep(vampiHashTime) // the hash is computed for existing users only
		}
		switch {
		case u != nil && u.password == in.Password:
			writeJSON(w, 200, map[string]string{"status": "success", "message": "Successfully logged in.", "auth_token": v.token(in.Username)})
		case v.f.enumBody && u == nil:
			msg(w, 200, "Username does not exist")
		case v.f.enumBody:
			msg(w, 200, "Password is not correct for the given username.")
		default:
			msg(w, 200, "Username or password incorrect.")
		}
	})
	mux.HandleFunc("GET /users/v1/{username}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("username")
		if v.f.sqli {
			// SELECT * FROM users WHERE username = '<name>': an odd number
			// of quotes is a syntax error (masked); '' is an escaped quote.
			if strings.Count(name, "'")%2 == 1 {
				msg(w, 500, "Internal Server Error")
				return
			}
			name = strings.ReplaceAll(name, "''", "'")
		}
		v.mu.Lock()
		u := v.users[name]
		v.mu.Unlock()
		if u == nil {
			msg(w, 404, "User not found")
			return
		}
		writeJSON(w, 200, map[string]any{"username": name, "email": u.email, "admin": u.admin})
	})
	mux.HandleFunc("DELETE /users/v1/{username}", authed(func(w http.ResponseWriter, r *http.Request, user string) {
		v.mu.Lock()
		defer v.mu.Unlock()
		if !v.users[user].admin {
			msg(w, 401, "Only Admins may delete users!")
			return
		}
		delete(v.users, r.PathValue("username"))
		msg(w, 200, "User deleted.")
	}))
	mux.HandleFunc("PUT /users/v1/{username}/email", authed(func(w http.ResponseWriter, r *http.Request, user string) {
		var in struct{ Email string }
		if !decode(r, &in, false) {
			msg(w, 400, "Invalid request")
			return
		}
		if r.PathValue("username") != user {
			msg(w, 403, "You can only change your own e-mail")
			return
		}
		if v.f.redos && !strings.Contains(in.Email, "@") && len(in.Email) >= 20 {
			time.Sleep(vampiSlow) // ^([0-9a-zA-Z]([-.\w]*[0-9a-zA-Z])*@...)$ backtracking
		}
		if !strings.Contains(in.Email, "@") {
			msg(w, 400, "Please Provide a valid email address.")
			return
		}
		v.mu.Lock()
		v.users[user].email = in.Email
		v.mu.Unlock()
		w.WriteHeader(204)
	}))
	mux.HandleFunc("PUT /users/v1/{username}/password", authed(func(w http.ResponseWriter, r *http.Request, user string) {
		var in struct{ Password string }
		if !decode(r, &in, false) || in.Password == "" {
			msg(w, 400, "Invalid request")
			return
		}
		name := r.PathValue("username")
		if !v.f.passwordChange && name != user {
			msg(w, 403, "You can only change your own password")
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		if u := v.users[name]; u != nil {
			u.password = in.Password
		}
		w.WriteHeader(204)
	}))
	mux.HandleFunc("GET /books/v1", authed(func(w http.ResponseWriter, r *http.Request, _ string) {
		v.mu.Lock()
		defer v.mu.Unlock()
		out := []map[string]any{}
		for _, t := range sortedKeys(v.books) {
			out = append(out, map[string]any{"book_title": t, "owner": v.books[t].owner})
		}
		writeJSON(w, 200, out)
	}))
	mux.HandleFunc("POST /books/v1", authed(func(w http.ResponseWriter, r *http.Request, user string) {
		var in struct {
			Title  string `json:"book_title"`
			Secret string `json:"secret"`
		}
		if !decode(r, &in, false) || in.Title == "" {
			msg(w, 400, "Invalid request")
			return
		}
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.books[in.Title] != nil {
			msg(w, 400, "Book already exists")
			return
		}
		v.books[in.Title] = &vampiBook{owner: user, secret: in.Secret}
		msg(w, 200, "Book has been added.")
	}))
	mux.HandleFunc("GET /books/v1/{book_title}", authed(func(w http.ResponseWriter, r *http.Request, user string) {
		v.mu.Lock()
		b := v.books[r.PathValue("book_title")]
		v.mu.Unlock()
		if b == nil || !v.f.bola && b.owner != user {
			msg(w, 404, "Book not found!")
			return
		}
		writeJSON(w, 200, map[string]any{"book_title": r.PathValue("book_title"), "owner": b.owner, "secret": b.secret})
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { msg(w, 404, "not found") })
	return mux
}
