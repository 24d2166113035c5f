package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/sextant-router/sextant/internal/config"
)

// CookieName is the dashboard's session cookie. Its value is an HMAC of
// the admin key, so it needs no server-side state and stops working when
// the key changes.
const CookieName = "sextant_admin"

// access is what a request may do.
type access int

const (
	denied     access = iota // no or a wrong key
	disabled                 // the dashboard cannot be opened in this config
	allowed                  // the key is right, or none is needed
	allowedKey               // allowed by a presented key (a login may set the cookie)
)

// authorize decides whether r may see the dashboard under snap:
//   - with an admin key configured, r must carry it as a bearer token or
//     carry the session cookie derived from it;
//   - without one, the dashboard is open while the gateway itself is open
//     (no client keys), and disabled otherwise.
func authorize(snap *config.Snapshot, r *http.Request) access {
	key := snap.Observability.AdminKey.Reveal()
	if key == "" {
		if len(snap.Keys) == 0 && len(snap.KeyHashes) == 0 {
			return allowed
		}
		return disabled
	}
	if tok := bearer(r); tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(key)) == 1 {
			return allowedKey
		}
		return denied
	}
	if c, err := r.Cookie(CookieName); err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(session(key))) == 1 {
		return allowed
	}
	return denied
}

// checkKey reports whether k is the admin key of snap.
func checkKey(snap *config.Snapshot, k string) bool {
	key := snap.Observability.AdminKey.Reveal()
	return key != "" && subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1
}

// session is the cookie value for key.
func session(key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("sextant dashboard session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

func bearer(r *http.Request) string {
	if k := r.Header.Get("X-Api-Key"); k != "" {
		return k
	}
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(rest)
	}
	return ""
}

func setSession(w http.ResponseWriter, r *http.Request, key string) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: session(key), Path: "/ui", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 7 * 24 * 3600})
}
