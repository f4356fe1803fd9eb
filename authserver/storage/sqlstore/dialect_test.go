package sqlstore

import "testing"

func TestRebind(t *testing.T) {
	const query = `UPDATE t SET a = ?, b = ? WHERE c = ? AND d = 'é'`
	for _, tc := range []struct {
		name  string
		style Placeholder
		want  string
	}{
		{"question mark", QuestionMark, query},
		{"dollar number", DollarNumber, `UPDATE t SET a = $1, b = $2 WHERE c = $3 AND d = 'é'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Dialect{Placeholder: tc.style}).rebind(query); got != tc.want {
				t.Errorf("rebind = %q, want %q", got, tc.want)
			}
		})
	}
}
