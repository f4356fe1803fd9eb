package bearerauth

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Rule says what a request needs: every listed scope (from the token's
// scope claim) and every listed RBAC permission (from its permissions
// claim). A request matching several rules needs all of their scopes and
// permissions. The rules are data for the policy (input.route); the policy
// enforces them.
type Rule struct {
	// Method is an HTTP method, or * for any.
	Method string `json:"method"`
	// Path is a path pattern, matched case-insensitively against the
	// cleaned request path as Caddy's path matcher does: /orders exactly,
	// /orders* by prefix, *.json by suffix, *admin* by substring, and other
	// * as a glob within one segment (/orders/*/items).
	Path        string   `json:"path"`
	Scopes      []string `json:"scopes,omitempty"`
	Permissions []string `json:"permissions,omitempty"`
}

func (r *Rule) validate() error {
	if r.Method == "" || r.Path == "" {
		return fmt.Errorf("a rule needs a method and a path")
	}
	if r.Method != "*" && strings.ToUpper(r.Method) != r.Method {
		return fmt.Errorf("rule method %q must be upper case (or *)", r.Method)
	}
	if !strings.HasPrefix(r.Path, "/") && !strings.HasPrefix(r.Path, "*") {
		return fmt.Errorf("rule path %q must start with / or *", r.Path)
	}
	if _, err := path.Match(strings.ToLower(r.Path), "/"); err != nil {
		return fmt.Errorf("rule path %q: %w", r.Path, err)
	}
	if len(r.Scopes) == 0 && len(r.Permissions) == 0 {
		return fmt.Errorf("rule %s %s lists no scopes or permissions", r.Method, r.Path)
	}
	return nil
}

func (r *Rule) matches(method, cleanPath string) bool {
	if r.Method != "*" && r.Method != method {
		return false
	}
	return matchPath(strings.ToLower(r.Path), strings.ToLower(cleanPath))
}

// matchPath matches a lower-case pattern as Caddy's path matcher does.
func matchPath(pattern, p string) bool {
	stars := strings.Count(pattern, "*")
	switch {
	case pattern == "*":
		return true
	case stars == 0:
		return p == pattern
	case stars == 1 && strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(p, pattern[:len(pattern)-1])
	case stars == 1 && strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(p, pattern[1:])
	case stars == 2 && strings.HasPrefix(pattern, "*") && strings.HasSuffix(pattern, "*"):
		return strings.Contains(p, pattern[1:len(pattern)-1])
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// requirements returns the scopes and permissions every matching rule
// needs, each once.
func requirements(rules []Rule, method, cleanPath string) (scopes, permissions []string) {
	scopes, permissions = []string{}, []string{}
	for i := range rules {
		r := &rules[i]
		if !r.matches(method, cleanPath) {
			continue
		}
		for _, s := range r.Scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
		for _, p := range r.Permissions {
			if !slices.Contains(permissions, p) {
				permissions = append(permissions, p)
			}
		}
	}
	return scopes, permissions
}

// cleanPath is the path rules and policies see: dot segments resolved and
// duplicate slashes removed, so that /orders/../admin is /admin, as the
// upstream would read it.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
