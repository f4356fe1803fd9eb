package users

import (
	"errors"
	"strings"
	"testing"
)

func TestPasswordPolicyCheck(t *testing.T) {
	ann := &User{Email: "ann.smith@example.com", Name: "Ann Smith", Nickname: "annie", GivenName: "Ann", FamilyName: "Smithson"}
	for _, tc := range []struct {
		name     string
		policy   PasswordPolicy
		password string
		user     *User
		wantErr  string // "" for accepted
	}{
		{"zero policy: 8 characters", PasswordPolicy{}, "abcdefgh", nil, ""},
		{"zero policy: 7 characters", PasswordPolicy{}, "abcdefg", nil, "at least 8 characters"},
		{"empty", PasswordPolicy{}, "", nil, "is required"},
		{"characters, not bytes", PasswordPolicy{}, "ééééééé", nil, "at least 8 characters"},
		{"multi-byte characters count once", PasswordPolicy{}, "éééééééé", nil, ""},
		{"invalid UTF-8", PasswordPolicy{}, "abcdefgh\xff", nil, "valid UTF-8"},
		{"128 bytes", PasswordPolicy{}, strings.Repeat("ab", 64), nil, ""},
		{"129 bytes", PasswordPolicy{}, strings.Repeat("ab", 64) + "c", nil, "at most 128 bytes"},
		{"64 two-byte characters are 128 bytes", PasswordPolicy{}, strings.Repeat("é", 64), nil, ""},
		{"65 two-byte characters are too many bytes", PasswordPolicy{}, strings.Repeat("é", 65), nil, "at most 128 bytes"},
		{"min length 1", PasswordPolicy{MinLength: 1}, "a", nil, ""},
		{"min length 12", PasswordPolicy{MinLength: 12}, "abcdefghijk", nil, "at least 12 characters"},

		{"none", PasswordPolicy{MinLength: 1, Strength: StrengthNone}, "a", nil, ""},
		{"low: 6", PasswordPolicy{MinLength: 1, Strength: StrengthLow}, "abcdef", nil, ""},
		{"low: 5", PasswordPolicy{MinLength: 1, Strength: StrengthLow}, "abcde", nil, "at least 6 characters"},
		{"low with a longer min length", PasswordPolicy{MinLength: 9, Strength: StrengthLow}, "abcdefgh", nil, "at least 9 characters"},
		{"fair: lower, upper, digit", PasswordPolicy{Strength: StrengthFair}, "Abcdefg1", nil, ""},
		{"fair: no digit", PasswordPolicy{Strength: StrengthFair}, "Abcdefg!", nil, "lower-case letters, upper-case letters and digits"},
		{"fair: no upper", PasswordPolicy{Strength: StrengthFair}, "abcdefg1", nil, "lower-case letters, upper-case letters and digits"},
		{"fair: 7", PasswordPolicy{MinLength: 1, Strength: StrengthFair}, "Abcdef1", nil, "at least 8 characters"},
		{"good: lower, upper, special", PasswordPolicy{Strength: StrengthGood}, "Abcdefg!", nil, ""},
		{"good: lower, digit, special", PasswordPolicy{Strength: StrengthGood}, "abcdef1!", nil, ""},
		{"good: space is special", PasswordPolicy{Strength: StrengthGood}, "abc def 1", nil, ""},
		{"good: two kinds", PasswordPolicy{Strength: StrengthGood}, "abcdefg1", nil, "at least 3 of"},
		{"excellent", PasswordPolicy{Strength: StrengthExcellent}, "Abcdefgh1!", nil, ""},
		{"excellent: 9", PasswordPolicy{Strength: StrengthExcellent}, "Abcdefg1!", nil, "at least 10 characters"},
		{"excellent: two in a row", PasswordPolicy{Strength: StrengthExcellent}, "Aabcdeff11", nil, ""},
		{"excellent: three in a row", PasswordPolicy{Strength: StrengthExcellent}, "Abcdefg111", nil, "more than twice in a row"},
		{"excellent: two kinds", PasswordPolicy{Strength: StrengthExcellent}, "abcdefghij1", nil, "at least 3 of"},
		{"good does not mind runs", PasswordPolicy{Strength: StrengthGood}, "Aaaaaaa1", nil, ""},

		{"personal info off", PasswordPolicy{}, "ann.smith-2024", ann, ""},
		{"e-mail local part", PasswordPolicy{NoPersonalInfo: true}, "xxANN.SMITHxx", ann, "must not contain the user's name"},
		{"name", PasswordPolicy{NoPersonalInfo: true}, "my ann smith!", ann, "must not contain the user's name"},
		{"nickname", PasswordPolicy{NoPersonalInfo: true}, "Annie-2024", ann, "must not contain the user's name"},
		{"family name", PasswordPolicy{NoPersonalInfo: true}, "smithson99", ann, "must not contain the user's name"},
		{"short given name is not checked", PasswordPolicy{NoPersonalInfo: true}, "ann-the-great", &User{GivenName: "An"}, ""},
		{"given name of 3", PasswordPolicy{NoPersonalInfo: true}, "ann-the-great", &User{GivenName: "Ann"}, "must not contain the user's name"},
		{"unrelated", PasswordPolicy{NoPersonalInfo: true}, "correct horse", ann, ""},
		{"no user", PasswordPolicy{NoPersonalInfo: true}, "ann.smith-2024", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.policy.Validate(); err != nil {
				t.Fatalf("policy: %v", err)
			}
			err := tc.policy.Check(tc.password, tc.user)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check accepted the password, want %q", tc.wantErr)
			}
			var pe *PasswordError
			if !errors.As(err, &pe) {
				t.Errorf("error %T is not a *PasswordError", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want one with %q", err, tc.wantErr)
			}
			if !strings.HasPrefix(err.Error(), "password ") {
				t.Errorf("error %q does not name the property", err)
			}
			if len(tc.password) >= 4 && strings.Contains(err.Error(), tc.password) {
				t.Errorf("error %q holds the password", err)
			}
		})
	}
}

func TestPasswordPolicyValidate(t *testing.T) {
	for _, p := range []PasswordPolicy{
		{MinLength: -1},
		{MinLength: MaxPasswordBytes + 1},
		{Strength: "strong"},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("Validate(%+v) succeeded", p)
		}
	}
	if got := (PasswordPolicy{}).EffectiveMinLength(); got != DefaultMinPasswordLength {
		t.Errorf("zero policy needs %d characters, want %d", got, DefaultMinPasswordLength)
	}
	if got := (PasswordPolicy{MinLength: 4, Strength: StrengthExcellent}).EffectiveMinLength(); got != 10 {
		t.Errorf("excellent with min length 4 needs %d characters, want 10", got)
	}
}
