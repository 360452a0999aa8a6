package dashboard

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// page is one dashboard page; its body is templates/<Name>.html.
type page struct{ Name, Title string }

var pages = []page{
	{"overview", "Overview"},
	{"events", "Security events"},
	{"offenders", "Offenders"},
	{"config", "Config"},
}

var loginPage = page{"login", "Log in"}

// pageData is what the templates see. The CSRF token sits in a meta tag
// that the scripts read (no inline script).
type pageData struct {
	Page    page
	Pages   []page
	Replica string
	CSRF    string
	Error   string
}

func (h *Handler) page(p page) http.Handler {
	return h.withSession(func(w http.ResponseWriter, r *http.Request, s *session) {
		h.render(w, r, http.StatusOK, p, pageData{CSRF: s.csrf})
	}, false)
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if h.sessions.get(r, h.opts.Now()) != nil {
		http.Redirect(w, r, Prefix+"overview", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, loginPage, pageData{})
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, p page, d pageData) {
	d.Page, d.Pages, d.Replica = p, pages, h.opts.Replica
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, p.Name+".html", d); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// assetHandler serves the embedded scripts, styles and vendor files.
func assetHandler() http.Handler {
	sub, _ := fs.Sub(assetFS, "assets") // a constant, embedded path
	return http.StripPrefix(Prefix+"assets/", http.FileServerFS(sub))
}
