package users

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Strength is a password strength level of a database connection, named
// as Auth0's passwordPolicy option names them.
type Strength string

// Strength levels, weakest first. Each requires a minimum length and, from
// fair on, kinds of characters: lower-case letters, upper-case letters,
// digits, and others ("special": punctuation, symbols, spaces, and letters
// of scripts without case).
const (
	// StrengthNone: at least 1 character.
	StrengthNone Strength = "none"
	// StrengthLow: at least 6 characters.
	StrengthLow Strength = "low"
	// StrengthFair: at least 8 characters, with lower-case and upper-case
	// letters and digits.
	StrengthFair Strength = "fair"
	// StrengthGood: at least 8 characters, of at least 3 of the 4 kinds.
	StrengthGood Strength = "good"
	// StrengthExcellent: at least 10 characters, of at least 3 of the 4
	// kinds, and no character more than twice in a row.
	StrengthExcellent Strength = "excellent"
)

// minLength is the length each level requires by itself.
func (s Strength) minLength() int {
	switch s {
	case StrengthLow:
		return 6
	case StrengthFair, StrengthGood:
		return 8
	case StrengthExcellent:
		return 10
	}
	return 1
}

// DefaultMinPasswordLength is the minimum length of a policy that names
// none.
const DefaultMinPasswordLength = 8

// PasswordPolicy is what a database connection requires of passwords. Its
// zero value requires at least DefaultMinPasswordLength characters and
// nothing else.
type PasswordPolicy struct {
	// MinLength is the minimum number of characters (Unicode code points),
	// 1 to MaxPasswordBytes; 0 means DefaultMinPasswordLength. When
	// Strength asks for more, Strength wins.
	MinLength int
	// Strength adds the character requirements of an Auth0 level; "" is
	// StrengthNone.
	Strength Strength
	// NoPersonalInfo refuses passwords that contain the user's name,
	// nickname, given or family name, or the part of the e-mail address
	// before the @, compared without regard to case (values shorter than 3
	// characters are not checked). This is Auth0's password_no_personal_info.
	NoPersonalInfo bool
}

// Validate checks the policy itself.
func (p PasswordPolicy) Validate() error {
	if p.MinLength < 0 || p.MinLength > MaxPasswordBytes {
		return fmt.Errorf("password policy: min_length must be between 1 and %d", MaxPasswordBytes)
	}
	switch p.Strength {
	case "", StrengthNone, StrengthLow, StrengthFair, StrengthGood, StrengthExcellent:
	default:
		return errors.New("password policy: strength must be one of none, low, fair, good, excellent")
	}
	return nil
}

// EffectiveMinLength is the number of characters a password needs under
// the policy.
func (p PasswordPolicy) EffectiveMinLength() int {
	n := p.MinLength
	if n == 0 {
		n = DefaultMinPasswordLength
	}
	return max(n, p.Strength.minLength())
}

// PasswordError is a password refused by a PasswordPolicy. Its message says
// which rule was broken, never what the password is.
type PasswordError struct {
	Reason string
}

func (e *PasswordError) Error() string { return "password " + e.Reason }

// Check returns a *PasswordError when password breaks the policy. u is the
// user the password is for, used only by NoPersonalInfo; it may be nil.
func (p PasswordPolicy) Check(password string, u *User) error {
	refuse := func(format string, args ...any) error {
		return &PasswordError{Reason: fmt.Sprintf(format, args...)}
	}
	if password == "" {
		return refuse("is required")
	}
	if !utf8.ValidString(password) {
		return refuse("must be valid UTF-8")
	}
	if len(password) > MaxPasswordBytes {
		return refuse("must be at most %d bytes", MaxPasswordBytes)
	}
	if n := p.EffectiveMinLength(); utf8.RuneCountInString(password) < n {
		return refuse("must be at least %d characters", n)
	}

	var lower, upper, digit, special bool
	for _, r := range password {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			special = true
		}
	}
	kinds := 0
	for _, b := range []bool{lower, upper, digit, special} {
		if b {
			kinds++
		}
	}
	switch p.Strength {
	case StrengthFair:
		if !lower || !upper || !digit {
			return refuse("must contain lower-case letters, upper-case letters and digits")
		}
	case StrengthGood, StrengthExcellent:
		if kinds < 3 {
			return refuse("must contain at least 3 of: lower-case letters, upper-case letters, digits, special characters")
		}
	}
	if p.Strength == StrengthExcellent && hasRun(password, 3) {
		return refuse("must not repeat a character more than twice in a row")
	}

	if p.NoPersonalInfo && u != nil {
		folded := strings.ToLower(password)
		local := ""
		if at := strings.LastIndexByte(u.Email, '@'); at > 0 {
			local = u.Email[:at]
		}
		for _, v := range []string{local, u.Name, u.Nickname, u.GivenName, u.FamilyName} {
			if utf8.RuneCountInString(v) >= 3 && strings.Contains(folded, strings.ToLower(v)) {
				return refuse("must not contain the user's name or e-mail address")
			}
		}
	}
	return nil
}

// hasRun reports whether s holds n equal characters in a row.
func hasRun(s string, n int) bool {
	var prev rune = -1
	run := 0
	for _, r := range s {
		if r == prev {
			run++
		} else {
			prev, run = r, 1
		}
		if run >= n {
			return true
		}
	}
	return false
}
