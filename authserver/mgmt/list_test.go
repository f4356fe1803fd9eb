package mgmt

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// wantError checks that err is a Management API error with status and
// errorCode.
func wantError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != status || e.ErrorCode != code {
		t.Errorf("%s: error %v, want %d %s", what, err, status, code)
	}
}

// TestParseListQuery reads the defaults, page-number paging and checkpoint
// paging, which asks the store for one item more than it answers.
func TestParseListQuery(t *testing.T) {
	q, err := parseListQuery(httptest.NewRequest("GET", "/api/v2/clients", nil))
	if err != nil || q.page.PerPage != 50 || q.page.Page != 0 || q.take != 0 || q.includeTotals {
		t.Errorf("no parameters: %+v, %v; want 50 per page, page 0, no totals", q, err)
	}
	q, err = parseListQuery(httptest.NewRequest("GET", "/api/v2/clients?page=3&per_page=10&include_totals=true", nil))
	if err != nil || q.page.Page != 3 || q.page.PerPage != 10 || q.take != 0 || !q.includeTotals {
		t.Errorf("page=3&per_page=10&include_totals=true: %+v, %v", q, err)
	}
	q, err = parseListQuery(httptest.NewRequest("GET", "/api/v2/clients?take=2&from="+checkpoint("app-7"), nil))
	if err != nil || q.take != 2 || q.page.PerPage != 3 || q.page.From != "app-7" {
		t.Errorf("take=2&from=checkpoint(app-7): %+v, %v; want take 2, 3 asked of the store, from app-7", q, err)
	}
}

// TestParseListQueryRefuses answers Auth0's invalid_query_string to values
// out of range, mixed paging styles and from values that are no checkpoint.
func TestParseListQueryRefuses(t *testing.T) {
	for _, query := range []string{
		"page=-1", "page=x", "per_page=0", "per_page=101", "take=0",
		"take=2&page=1", "from=" + checkpoint("a") + "&per_page=5",
		"from=not-a-checkpoint", "from=" + checkpoint(""), "from=" + checkpoint("a\x00b"),
		"include_totals=maybe",
	} {
		_, err := parseListQuery(httptest.NewRequest("GET", "/api/v2/clients?"+strings.ReplaceAll(query, "\x00", "%00"), nil))
		wantError(t, query, err, http.StatusBadRequest, "invalid_query_string")
	}
}

// TestCut trims a checkpoint page to take items with the next page's
// checkpoint, and leaves the last page and number-paged lists alone.
func TestCut(t *testing.T) {
	id := func(s string) string { return s }
	q := listQuery{take: 2}
	items, next := cut(q, []string{"a", "b", "c"}, id)
	if !slices.Equal(items, []string{"a", "b"}) {
		t.Errorf("page = %v, want [a b]", items)
	}
	if key, err := checkpointKey(next); err != nil || key != "c" {
		t.Errorf("next = %q (key %q, %v), want the checkpoint of c", next, key, err)
	}
	if items, next := cut(q, []string{"a", "b"}, id); len(items) != 2 || next != "" {
		t.Errorf("last page: %v, next %q; want both items and no next", items, next)
	}
	if items, next := cut(listQuery{}, []string{"a", "b", "c"}, id); len(items) != 3 || next != "" {
		t.Errorf("number-paged list: %v, next %q; want it whole", items, next)
	}
}

// TestDecodeBody accepts one JSON object and refuses, with Auth0's status
// and code, other content types, unknown properties, wrong types, trailing
// data and bodies over MaxBodySize.
func TestDecodeBody(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	request := func(contentType, payload string) *http.Request {
		r := httptest.NewRequest("POST", "/api/v2/clients", strings.NewReader(payload))
		r.Header.Set("Content-Type", contentType)
		return r
	}
	var got body
	if err := decodeBody(request("application/json; charset=utf-8", `{"name":"worker"}`), &got); err != nil || got.Name != "worker" {
		t.Errorf("a valid body: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		what, contentType, payload string
		status                     int
		code                       string
	}{
		{"form content type", "application/x-www-form-urlencoded", "name=worker", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"unknown property", "application/json", `{"name":"w","color":"red"}`, http.StatusBadRequest, "invalid_body"},
		{"wrong type", "application/json", `{"name":7}`, http.StatusBadRequest, "invalid_body"},
		{"not an object", "application/json", `[1]`, http.StatusBadRequest, "invalid_body"},
		{"trailing data", "application/json", `{"name":"w"}{}`, http.StatusBadRequest, "invalid_body"},
		{"too large", "application/json", `{"name":"` + strings.Repeat("x", MaxBodySize) + `"}`, http.StatusRequestEntityTooLarge, "payload_too_large"},
	} {
		wantError(t, tc.what, decodeBody(request(tc.contentType, tc.payload), &body{}), tc.status, tc.code)
	}
}
