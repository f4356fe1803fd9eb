// Package usersearch reads the part of Auth0's user search query syntax
// (search_engine=v3, a subset of Lucene's) that Portcullis implements, and
// tells which users a query matches.
//
// A query is one or more terms field:value joined with AND or OR (in
// capitals), grouped with parentheses; AND and OR are mixed only inside
// parentheses, so a OR b AND c is refused and (a OR b) AND c is not. The
// fields are:
//
//   - email and name: the whole value, compared without regard to case
//     (Auth0 normalises these fields);
//   - user_id: the whole value, case included;
//   - email_verified: true or false;
//   - app_metadata.key, with any depth of .key: a string equal to the
//     value, case included, a boolean or a number written as the value, or
//     an array holding one of these.
//
// A value is quoted ("Ann Smith", with \" and \\ inside) or bare (no
// spaces, parentheses, quotes or Lucene operators). Everything else
// Lucene or Auth0 offers (free text, wildcards, ranges, fuzzy and
// proximity searches, boosts, NOT, +, -, other fields) is refused with an
// error that says what is supported: a query is never silently read as
// something else.
//
// Of Portcullis it imports only users.
package usersearch

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/portcullis-gw/portcullis/authserver/users"
)

// Supported says what queries Parse accepts, for error messages.
const Supported = `Portcullis supports field:value terms on email, name, user_id, email_verified and app_metadata.<key>, with quoted or bare values, joined with AND or OR and grouped with parentheses`

// MaxLength bounds a query, in bytes.
const MaxLength = 2048

// maxDepth bounds how deeply parentheses nest.
const maxDepth = 16

// Query is a parsed query.
type Query struct {
	root node
}

// Match reports whether the query matches u.
func (q *Query) Match(u *users.User) bool { return q.root.match(u) }

// Parse reads a query; its error says what is wrong and what is
// supported.
func Parse(q string) (*Query, error) {
	if len(q) > MaxLength {
		return nil, fmt.Errorf("the query is longer than %d bytes", MaxLength)
	}
	p := &parser{src: q}
	if err := p.lex(); err != nil {
		return nil, err
	}
	if len(p.tokens) == 0 {
		return nil, errors.New("the query is empty")
	}
	root, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.tokens) {
		return nil, fmt.Errorf("unexpected %s", p.tokens[p.pos])
	}
	return &Query{root}, nil
}

type tokenKind int

const (
	tokTerm tokenKind = iota
	tokAnd
	tokOr
	tokOpen
	tokClose
)

type token struct {
	kind  tokenKind
	field string // tokTerm
	value string // tokTerm
}

func (t token) String() string {
	switch t.kind {
	case tokAnd:
		return "AND"
	case tokOr:
		return "OR"
	case tokOpen:
		return `"("`
	case tokClose:
		return `")"`
	}
	return fmt.Sprintf("term %s:%q", t.field, t.value)
}

type parser struct {
	src    string
	tokens []token
	pos    int
}

// lex splits the query into terms, operators and parentheses.
func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			p.tokens = append(p.tokens, token{kind: tokOpen})
			i++
		case c == ')':
			p.tokens = append(p.tokens, token{kind: tokClose})
			i++
		default:
			j := i
			for j < len(s) && isFieldByte(s[j]) {
				j++
			}
			word := s[i:j]
			if j < len(s) && s[j] == ':' && word != "" {
				field, err := checkField(word)
				if err != nil {
					return err
				}
				value, next, err := lexValue(s, j+1)
				if err != nil {
					return fmt.Errorf("%s: %w", word, err)
				}
				if field == "email_verified" && value != "true" && value != "false" {
					return fmt.Errorf("email_verified is true or false, not %q", value)
				}
				p.tokens = append(p.tokens, token{kind: tokTerm, field: field, value: value})
				i = next
				continue
			}
			if end := j; end == len(s) || isSpaceOrParen(s[end]) {
				switch word {
				case "AND":
					p.tokens = append(p.tokens, token{kind: tokAnd})
					i = j
					continue
				case "OR":
					p.tokens = append(p.tokens, token{kind: tokOr})
					i = j
					continue
				case "NOT":
					return errors.New("NOT is not supported")
				}
			}
			end := i
			for end < len(s) && !isSpaceOrParen(s[end]) {
				end++
			}
			return fmt.Errorf("%q is not a field:value term (free-text search, operators other than AND and OR, and other Lucene syntax are not supported)", s[i:end])
		}
	}
	return nil
}

// lexValue reads the value starting at s[i], quoted or bare, and returns
// it with the index after it.
func lexValue(s string, i int) (string, int, error) {
	if i < len(s) && s[i] == '"' {
		var b strings.Builder
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				if j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\') {
					b.WriteByte(s[j+1])
					j++
					continue
				}
				return "", 0, errors.New(`only \" and \\ may be escaped in a quoted value`)
			case '"':
				if j+1 < len(s) && !isSpaceOrParen(s[j+1]) {
					return "", 0, errors.New("a quoted value must be followed by a space, a parenthesis or the end (proximity searches and boosts are not supported)")
				}
				return b.String(), j + 1, nil
			}
			b.WriteByte(s[j])
		}
		return "", 0, errors.New("the quoted value has no closing quote")
	}
	j := i
	for j < len(s) && !isSpaceOrParen(s[j]) {
		j++
	}
	v := s[i:j]
	switch {
	case v == "":
		return "", 0, errors.New("the value is empty")
	case strings.ContainsAny(v, `*?~^[]{}!\/:"`) || v[0] == '+' || v[0] == '-':
		return "", 0, fmt.Errorf("%q: wildcards, ranges, fuzzy searches, boosts and Lucene's special characters are not supported in a bare value (quote it to search for it as written)", v)
	}
	return v, j, nil
}

// checkField returns the field a term names, if it is searchable.
func checkField(f string) (string, error) {
	switch f {
	case "email", "name", "user_id", "email_verified":
		return f, nil
	}
	if key, ok := strings.CutPrefix(f, "app_metadata."); ok {
		for seg := range strings.SplitSeq(key, ".") {
			if seg == "" {
				return "", fmt.Errorf("field %q has an empty key", f)
			}
		}
		return f, nil
	}
	return "", fmt.Errorf("field %q is not searchable", f)
}

func isFieldByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

func isSpaceOrParen(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '(' || c == ')'
}

// expr reads terms joined by one operator: a AND b AND c, or a OR b.
func (p *parser) expr(depth int) (node, error) {
	first, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	nodes := []node{first}
	var op tokenKind = -1
	for p.pos < len(p.tokens) {
		t := p.tokens[p.pos]
		switch t.kind {
		case tokClose:
			return join(op, nodes), nil
		case tokAnd, tokOr:
			if op != -1 && op != t.kind {
				return nil, errors.New("AND and OR are mixed only inside parentheses: write (a OR b) AND c")
			}
			op = t.kind
			p.pos++
		default:
			return nil, fmt.Errorf("%s follows a term without AND or OR", t)
		}
		n, err := p.operand(depth)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	return join(op, nodes), nil
}

// operand reads a term or a parenthesised expression.
func (p *parser) operand(depth int) (node, error) {
	if p.pos >= len(p.tokens) {
		return nil, errors.New("the query ends where a term was expected")
	}
	t := p.tokens[p.pos]
	p.pos++
	switch t.kind {
	case tokTerm:
		return term{t.field, t.value}, nil
	case tokOpen:
		if depth >= maxDepth {
			return nil, fmt.Errorf("parentheses nest deeper than %d", maxDepth)
		}
		n, err := p.expr(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.tokens) || p.tokens[p.pos].kind != tokClose {
			return nil, errors.New(`a "(" is not closed`)
		}
		p.pos++
		return n, nil
	}
	return nil, fmt.Errorf("%s where a term was expected", t)
}

func join(op tokenKind, nodes []node) node {
	switch {
	case len(nodes) == 1:
		return nodes[0]
	case op == tokAnd:
		return and(nodes)
	}
	return or(nodes)
}

type node interface {
	match(u *users.User) bool
}

type and []node

func (n and) match(u *users.User) bool {
	for _, c := range n {
		if !c.match(u) {
			return false
		}
	}
	return true
}

type or []node

func (n or) match(u *users.User) bool {
	for _, c := range n {
		if c.match(u) {
			return true
		}
	}
	return false
}

type term struct {
	field, value string
}

func (t term) match(u *users.User) bool {
	switch t.field {
	case "email":
		return strings.EqualFold(u.Email, t.value)
	case "name":
		return strings.EqualFold(u.Name, t.value)
	case "user_id":
		return u.UserID == t.value
	case "email_verified":
		return strconv.FormatBool(u.EmailVerified) == t.value
	}
	var v any = u.AppMetadata
	for key := range strings.SplitSeq(strings.TrimPrefix(t.field, "app_metadata."), ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[key]; !ok {
			return false
		}
	}
	if list, ok := v.([]any); ok {
		for _, item := range list {
			if scalarEquals(item, t.value) {
				return true
			}
		}
		return false
	}
	return scalarEquals(v, t.value)
}

// scalarEquals reports whether a metadata value is a string, boolean or
// number written as s.
func scalarEquals(v any, s string) bool {
	switch v := v.(type) {
	case string:
		return v == s
	case bool:
		return strconv.FormatBool(v) == s
	case float64:
		var f float64
		return json.Unmarshal([]byte(s), &f) == nil && f == v
	}
	return false
}
