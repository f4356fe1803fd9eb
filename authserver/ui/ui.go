// Package ui renders the pages of Universal Login: sign-in, consent,
// errors, logout and the form_post response. Pages are server-rendered
// HTML with no JavaScript needed (form_post alone submits itself with a
// script, and offers a button without one), no resources from other sites
// but the tenant's logo, and headers that forbid framing, sniffing,
// caching and referrers.
//
// It imports nothing of Portcullis.
package ui

import (
	"bytes"
	"crypto/rand"
	"embed"
	"html/template"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var files embed.FS

var pages = template.Must(template.ParseFS(files, "templates/*.html"))

// Branding is how the pages look: the tenant's name, logo and colours.
// Colours must be CSS hex colours (the Management API refuses anything
// else); any other value is dropped by the template's CSS escaping.
type Branding struct {
	Name            string
	LogoURL         string
	PrimaryColor    string
	BackgroundColor string
}

// Page is what every page shows around its content.
type Page struct {
	Branding Branding
	Title    string
	// Error is a message shown above the content, such as "Wrong email or
	// password."
	Error string
	// Nonce allows the page's own inline style (and form_post's script)
	// under the Content-Security-Policy; Render sets it.
	Nonce string
}

// Login is the sign-in form. Action is the URL it posts to; CSRF the
// token it must carry.
type Login struct {
	Page
	Action     string
	CSRF       string
	Email      string
	ClientName string
}

// ScopeGroup lists the permissions asked for on one API (or, with an empty
// API, the user's profile).
type ScopeGroup struct {
	API    string
	Scopes []ScopeItem
}

// ScopeItem is one requested permission.
type ScopeItem struct {
	Name        string
	Description string
}

// Consent asks the user to let a client act for them.
type Consent struct {
	Page
	Action     string
	CSRF       string
	ClientName string
	UserEmail  string
	Groups     []ScopeGroup
}

// Message is a page with a message.
type Message struct {
	Page
	Message string
}

// Logout asks the user whether to sign out. Its form posts action=confirm
// (sign out) or action=cancel (stay signed in) to Action, with the CSRF
// token.
type Logout struct {
	Page
	Action string
	CSRF   string
}

// FormPost is the form_post response mode (OAuth 2.0 Form Post Response
// Mode): a form that posts the response parameters to the client.
type FormPost struct {
	Page
	Action string
	Fields map[string]string
}

// Render writes the page with the given template name (login, consent,
// message, logout, form_post) and status. formAction lists origins, beyond the
// server's own, that the page's forms may post to or be redirected to
// after posting.
func Render(w http.ResponseWriter, status int, name string, page interface{ base() *Page }, formAction ...string) {
	nonce := rand.Text()
	page.base().Nonce = nonce
	var body bytes.Buffer
	if err := pages.ExecuteTemplate(&body, name+".html", page); err != nil {
		http.Error(w, "The page could not be rendered.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	actions := append([]string{"'self'"}, formAction...)
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+"'; img-src https: data:; form-action "+strings.Join(actions, " ")+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body.Bytes())
}

func (p *Page) base() *Page { return p }
