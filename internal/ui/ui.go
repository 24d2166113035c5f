package ui

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"

	"github.com/sextant-router/sextant/internal/config"
	"github.com/sextant-router/sextant/internal/metrics"
	"github.com/sextant-router/sextant/internal/store"
)

//go:embed static
var static embed.FS

// DecisionLog is the part of the decision log the dashboard reads and
// writes (store.Log implements it).
type DecisionLog interface {
	Get(ctx context.Context, id string) (*store.Decision, error)
	Feedback(ctx context.Context, id string) ([]store.Feedback, error)
	AddFeedback(ctx context.Context, fb store.Feedback) error
}

// Options configure the dashboard.
type Options struct {
	// Snapshot returns the current config: the admin key, routes, models
	// and reports directory are read from it on every request.
	Snapshot func() *config.Snapshot
	// Recent is the in-memory window of finished requests; required.
	Recent *Recent
	// Log and LogStats may be nil when no decision log is kept.
	Log      DecisionLog
	LogStats metrics.LogStats
}

type handler struct {
	opts   Options
	mux    *http.ServeMux
	assets http.Handler
}

// Handler returns the dashboard, to be mounted at "/ui/" (and "/ui",
// which redirects). Its routes:
//
//	GET  /ui/                       the dashboard (login page without a session)
//	POST /ui/login                  form field "key": sets the session cookie
//	POST /ui/logout                 clears it
//	GET  /ui/static/...             embedded assets
//	GET  /ui/api/overview?window=S  live numbers (Overview)
//	GET  /ui/api/decisions?limit=N  recent requests, newest first
//	GET  /ui/api/decisions/{id}     one request's record, trace and feedback
//	POST /ui/api/feedback           {request_id, score, label, comment}
//	GET  /ui/api/eval?route=R       the route's latest eval report curve
//	GET  /ui/api/experiments        live A/B experiments (split routes)
//
// Every route but the login page, login and the assets needs the admin
// key (see authorize).
func Handler(o Options) http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	h := &handler{opts: o, mux: http.NewServeMux(), assets: http.StripPrefix("/ui/static/", http.FileServerFS(sub))}
	h.mux.HandleFunc("GET /ui/{$}", h.index)
	h.mux.HandleFunc("POST /ui/login", h.login)
	h.mux.HandleFunc("POST /ui/logout", h.logout)
	h.mux.HandleFunc("GET /ui/static/", h.static)
	h.mux.HandleFunc("GET /ui/api/overview", h.api(h.overview))
	h.mux.HandleFunc("GET /ui/api/decisions", h.api(h.decisions))
	h.mux.HandleFunc("GET /ui/api/decisions/{id}", h.api(h.decision))
	h.mux.HandleFunc("POST /ui/api/feedback", h.api(h.feedback))
	h.mux.HandleFunc("GET /ui/api/eval", h.api(h.eval))
	h.mux.HandleFunc("GET /ui/api/experiments", h.api(h.experiments))
	h.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, "unknown dashboard URL "+r.Method+" "+r.URL.Path)
	})
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ui" {
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

func (h *handler) static(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	h.assets.ServeHTTP(w, r)
}

func (h *handler) page(w http.ResponseWriter, name string, status int) {
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		http.Error(w, "missing page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

func (h *handler) index(w http.ResponseWriter, r *http.Request) {
	switch authorize(h.opts.Snapshot(), r) {
	case allowed, allowedKey:
		h.page(w, "index.html", http.StatusOK)
	case disabled:
		h.page(w, "disabled.html", http.StatusForbidden)
	default:
		// 200, not 401: the login page is a page, and browsers report a
		// 401 document as an error in the console.
		h.page(w, "login.html", http.StatusOK)
	}
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	snap := h.opts.Snapshot()
	if !checkKey(snap, r.PostForm.Get("key")) {
		b, _ := static.ReadFile("static/login.html")
		b = []byte(strings.Replace(string(b), "<!--denied-->", `<p class="error" role="alert">That is not the admin key.</p>`, 1))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write(b)
		return
	}
	setSession(w, r, snap.Observability.AdminKey.Reveal())
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/ui", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// api guards a JSON endpoint with the admin key.
func (h *handler) api(f http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch authorize(h.opts.Snapshot(), r) {
		case allowed, allowedKey:
			f(w, r)
		case disabled:
			apiError(w, http.StatusForbidden, "the dashboard needs an admin key when client keys are configured: set admin.key_env")
		default:
			w.Header().Set("WWW-Authenticate", `Bearer realm="sextant admin"`)
			apiError(w, http.StatusUnauthorized, "the admin key is required (Authorization: Bearer <key>, or log in at /ui/)")
		}
	}
}

// Protect wraps h so that it needs the admin key of the current config
// when required() is true; /metrics uses it for metrics.require_admin.
func Protect(snapshot func() *config.Snapshot, required func(*config.Snapshot) bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snap := snapshot()
		if required(snap) {
			switch authorize(snap, r) {
			case allowed, allowedKey:
			case disabled:
				apiError(w, http.StatusForbidden, "this endpoint needs an admin key: set admin.key_env")
				return
			default:
				w.Header().Set("WWW-Authenticate", `Bearer realm="sextant admin"`)
				apiError(w, http.StatusUnauthorized, "the admin key is required (Authorization: Bearer <key>)")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		apiError(w, http.StatusInternalServerError, "could not encode the answer")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}

// apiError writes {"error": {"message": msg}}, the gateway's error shape.
func apiError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": errorType(status)}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func errorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusBadRequest:
		return "invalid_request_error"
	}
	return "server_error"
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return errors.New("Content-Type must be application/json")
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
