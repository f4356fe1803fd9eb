package usersearch

import (
	"strings"
	"testing"

	"github.com/portcullis-gw/portcullis/authserver/users"
)

var (
	ann = &users.User{UserID: "auth0|ann", Email: "Ann.Smith@Example.com", Name: "Ann Smith", EmailVerified: true,
		AppMetadata: map[string]any{"plan": "gold", "seats": 5.0, "beta": true, "tags": []any{"vip", 7.0}, "org": map[string]any{"id": "o-1"}}}
	bob = &users.User{UserID: "auth0|bob", Email: "bob@example.com", Name: "Bob", AppMetadata: map[string]any{"plan": "Gold"}}
	eve = &users.User{UserID: "google-oauth2|eve", Email: "eve@example.com", Name: "eve"}
)

func TestParseAccepted(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  []*users.User // of ann, bob, eve
	}{
		{`email:"ann.smith@example.com"`, []*users.User{ann}},
		{`email:ANN.SMITH@EXAMPLE.COM`, []*users.User{ann}},
		{`email:ann`, nil},
		{`name:"ann smith"`, []*users.User{ann}},
		{`name:EVE`, []*users.User{eve}},
		{`user_id:"auth0|bob"`, []*users.User{bob}},
		{`user_id:auth0|BOB`, nil},
		{`email_verified:true`, []*users.User{ann}},
		{`email_verified:false`, []*users.User{bob, eve}},
		{`app_metadata.plan:gold`, []*users.User{ann}},
		{`app_metadata.plan:"Gold"`, []*users.User{bob}},
		{`app_metadata.seats:5`, []*users.User{ann}},
		{`app_metadata.seats:5.0`, []*users.User{ann}},
		{`app_metadata.seats:"5"`, []*users.User{ann}},
		{`app_metadata.seats:0x5`, nil},
		{`app_metadata.beta:true`, []*users.User{ann}},
		{`app_metadata.tags:vip`, []*users.User{ann}},
		{`app_metadata.tags:7`, []*users.User{ann}},
		{`app_metadata.org.id:o-1`, []*users.User{ann}},
		{`app_metadata.org:o-1`, nil},
		{`app_metadata.missing:x`, nil},
		{`app_metadata.plan.deeper:gold`, nil},
		{`email:bob@example.com OR name:eve`, []*users.User{bob, eve}},
		{`email:bob@example.com AND name:eve`, nil},
		{`app_metadata.plan:gold AND email_verified:true AND name:"Ann Smith"`, []*users.User{ann}},
		{`(app_metadata.plan:gold OR app_metadata.plan:Gold) AND email_verified:false`, []*users.User{bob}},
		{`((name:eve))`, []*users.User{eve}},
		{`  name:eve  `, []*users.User{eve}},
		{`name:"say \"hi\" \\ bye"`, nil},
		{`name:"a(b) OR c:d*"`, nil},
		{`email:ann+1@example.com`, nil},
	} {
		q, err := Parse(tc.query)
		if err != nil {
			t.Errorf("Parse(%s): %v", tc.query, err)
			continue
		}
		var got []*users.User
		for _, u := range []*users.User{ann, bob, eve} {
			if q.Match(u) {
				got = append(got, u)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s matches %d users, want %d", tc.query, len(got), len(tc.want))
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s matches %s, want %s", tc.query, got[i].UserID, tc.want[i].UserID)
			}
		}
	}
}

func TestParseQuotedValue(t *testing.T) {
	q, err := Parse(`name:"say \"hi\" \\ bye"`)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Match(&users.User{Name: `say "hi" \ bye`}) {
		t.Errorf("the escaped quote and backslash are not read as written")
	}
}

func TestParseRefused(t *testing.T) {
	for _, tc := range []struct{ query, why string }{
		{``, "empty"},
		{`   `, "empty"},
		{`ann`, "not a field:value term"},
		{`"ann smith"`, "not a field:value term"},
		{`nickname:ann`, `field "nickname" is not searchable`},
		{`user_metadata.lang:nl`, `field "user_metadata.lang" is not searchable`},
		{`identities.connection:x`, "not searchable"},
		{`app_metadata.:x`, "empty key"},
		{`app_metadata..a:x`, "empty key"},
		{`email:`, "the value is empty"},
		{`email: ann`, "the value is empty"},
		{`email:ann*`, "wildcards"},
		{`name:an?`, "wildcards"},
		{`name:ann~`, "fuzzy"},
		{`name:ann^2`, "boosts"},
		{`name:"ann smith"~2`, "proximity"},
		{`logins_count:[1 TO 5]`, "not searchable"},
		{`name:[a TO b]`, "wildcards, ranges"},
		{`name:-ann`, "special characters"},
		{`name:a:b`, "special characters"},
		{`name:"ann`, "no closing quote"},
		{`name:"a\nb"`, `only \" and \\`},
		{`email_verified:yes`, "true or false"},
		{`email_verified:"TRUE"`, "true or false"},
		{`name:a AND`, "ends where a term was expected"},
		{`AND name:a`, "AND where a term was expected"},
		{`name:a name:b`, "without AND or OR"},
		{`name:a and name:b`, `"and" is not a field:value term`},
		{`name:a && name:b`, "not a field:value term"},
		{`name:a || name:b`, "not a field:value term"},
		{`NOT name:a`, "NOT is not supported"},
		{`+name:a`, "not a field:value term"},
		{`-name:a`, `field "-name" is not searchable`},
		{`name:a OR name:b AND name:c`, "AND and OR are mixed only inside parentheses"},
		{`(name:a`, "not closed"},
		{`name:a)`, `unexpected ")"`},
		{`()`, `")" where a term was expected`},
		{strings.Repeat("(", 17) + "name:a" + strings.Repeat(")", 17), "nest deeper than 16"},
		{"name:" + strings.Repeat("a", MaxLength), "longer than"},
	} {
		_, err := Parse(tc.query)
		if err == nil {
			t.Errorf("Parse(%s) succeeded, want an error about %q", tc.query, tc.why)
			continue
		}
		if !strings.Contains(err.Error(), tc.why) {
			t.Errorf("Parse(%s): %v, want an error about %q", tc.query, err, tc.why)
		}
	}
}
