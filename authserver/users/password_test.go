package users

import (
	"regexp"
	"strings"
	"testing"
)

// Known answers of the argon2 reference implementation (phc-winner-argon2,
// src/test.c): password "password" or "differentpassword", salt "somesalt"
// or "diffsalt".
var knownAnswers = []struct {
	password, encoded string
}{
	{"password", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
	{"password", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
	{"password", "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
	{"password", "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"},
	{"differentpassword", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$C4TWUs9rDEvq7w3+J4umqA32aWKB1+DSiRuBfYxFj94"},
	{"password", "$argon2id$v=19$m=65536,t=2,p=1$ZGlmZnNhbHQ$vfMrBczELrFdWP0ZsfhWsRPaHppYdP3MVEMIVlqoFBw"},
}

func TestVerifyPasswordKnownAnswers(t *testing.T) {
	for _, ka := range knownAnswers {
		t.Run(ka.encoded, func(t *testing.T) {
			ok, err := VerifyPassword([]byte(ka.encoded), ka.password)
			if err != nil || !ok {
				t.Fatalf("VerifyPassword(right password) = %v, %v; want true", ok, err)
			}
			ok, err = VerifyPassword([]byte(ka.encoded), ka.password+"x")
			if err != nil || ok {
				t.Errorf("VerifyPassword(wrong password) = %v, %v; want false", ok, err)
			}
			// The parser reads exactly what the encoder writes.
			p, salt, key, err := decodeHash([]byte(ka.encoded))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(encodeHash(p, salt, key)); got != ka.encoded {
				t.Errorf("re-encoded as %s", got)
			}
		})
	}
}

var defaultHashForm = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashPasswordRoundTrip(t *testing.T) {
	for _, password := range []string{"correct horse battery staple", "Ünïcödé pässwörd ✓", "x", strings.Repeat("p", MaxPasswordBytes)} {
		h, err := HashPassword(password)
		if err != nil {
			t.Fatalf("HashPassword: %v", err)
		}
		if !defaultHashForm.Match(h) {
			t.Errorf("hash %s is not of the default form", h)
		}
		if len(password) >= 4 && strings.Contains(string(h), password) {
			t.Errorf("hash %s holds the password", h)
		}
		ok, err := VerifyPassword(h, password)
		if err != nil || !ok {
			t.Errorf("VerifyPassword(right password) = %v, %v", ok, err)
		}
		for _, wrong := range []string{"", password + " ", strings.ToUpper(password[:1]) + password[1:] + "!", password[:len(password)-1]} {
			ok, err := VerifyPassword(h, wrong)
			if err != nil || ok {
				t.Errorf("VerifyPassword(%q) = %v, %v; want false", wrong, ok, err)
			}
		}
		if DefaultArgon2Params.NeedsRehash(h) {
			t.Error("a fresh hash needs rehashing")
		}
	}
}

func TestHashPasswordSaltsEachHash(t *testing.T) {
	a, err := HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := HashPassword("same password")
	if err != nil {
		t.Fatal(err)
	}
	if string(a) == string(b) {
		t.Errorf("two hashes of one password are equal: %s", a)
	}
}

func TestHashPasswordRefusesLongPasswords(t *testing.T) {
	long := strings.Repeat("secret", 30)
	if _, err := HashPassword(long); err == nil {
		t.Fatal("HashPassword of a 180-byte password succeeded")
	} else if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %q holds the password", err)
	}
	h, err := HashPassword(long[:MaxPasswordBytes])
	if err != nil {
		t.Fatal(err)
	}
	// A longer password is not cut short to the accepted prefix.
	if ok, err := VerifyPassword(h, long); ok || err != nil {
		t.Errorf("VerifyPassword of a password longer than the limit = %v, %v; want false", ok, err)
	}
}

func TestVerifyPasswordRefusesTamperedEncodings(t *testing.T) {
	const good = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	const salt, key = "c29tZXNhbHQ", "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	for _, tc := range []struct{ name, encoded string }{
		{"empty", ""},
		{"not PHC", "password"},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ012"},
		{"argon2i", "$argon2i$v=19$m=256,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=256,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=256,t=2,p=1$" + salt + "$" + key},
		{"no version", "$argon2id$m=256,t=2,p=1$" + salt + "$" + key},
		{"version with leading zero", "$argon2id$v=019$m=256,t=2,p=1$" + salt + "$" + key},
		{"memory with leading zero", "$argon2id$v=19$m=0256,t=2,p=1$" + salt + "$" + key},
		{"signed memory", "$argon2id$v=19$m=+256,t=2,p=1$" + salt + "$" + key},
		{"memory below 8×p", "$argon2id$v=19$m=7,t=2,p=1$" + salt + "$" + key},
		{"memory too large", "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key},
		{"memory overflows", "$argon2id$v=19$m=99999999999999999999,t=2,p=1$" + salt + "$" + key},
		{"time 0", "$argon2id$v=19$m=256,t=0,p=1$" + salt + "$" + key},
		{"time too large", "$argon2id$v=19$m=256,t=1000000,p=1$" + salt + "$" + key},
		{"threads 0", "$argon2id$v=19$m=256,t=2,p=0$" + salt + "$" + key},
		{"threads 256", "$argon2id$v=19$m=4096,t=2,p=256$" + salt + "$" + key},
		{"parameters out of order", "$argon2id$v=19$t=2,m=256,p=1$" + salt + "$" + key},
		{"parameter missing", "$argon2id$v=19$m=256,t=2$" + salt + "$" + key},
		{"extra parameter", "$argon2id$v=19$m=256,t=2,p=1,k=1$" + salt + "$" + key},
		{"padded salt", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "=$" + key},
		{"salt not base64", "$argon2id$v=19$m=256,t=2,p=1$c29t*XNhbHQ$" + key},
		{"salt with stray bits", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHR$" + key},
		{"salt too short", "$argon2id$v=19$m=256,t=2,p=1$c29tZQ$" + key},
		{"hash too short", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$nf65EOgLrQMR"},
		{"hash missing", "$argon2id$v=19$m=256,t=2,p=1$" + salt},
		{"extra field", good + "$AAAA"},
		{"trailing newline", good + "\n"},
		{"leading space", " " + good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := VerifyPassword([]byte(tc.encoded), "password")
			if err == nil || ok {
				t.Fatalf("VerifyPassword(%q) = %v, %v; want an error", tc.encoded, ok, err)
			}
			if strings.Contains(err.Error(), "password\"") {
				t.Errorf("error %q quotes the password", err)
			}
			if !DefaultArgon2Params.NeedsRehash([]byte(tc.encoded)) {
				t.Error("NeedsRehash of a malformed hash is false")
			}
		})
	}
	// A well-formed hash that was changed just fails to match.
	tampered := []byte(strings.Replace(good, "$nf65", "$mf65", 1))
	if ok, err := VerifyPassword(tampered, "password"); ok || err != nil {
		t.Errorf("VerifyPassword of a hash with a flipped bit = %v, %v; want false, nil", ok, err)
	}
}

func TestNeedsRehash(t *testing.T) {
	h, err := HashPassword("password")
	if err != nil {
		t.Fatal(err)
	}
	stronger := DefaultArgon2Params
	stronger.Memory *= 2
	longer := DefaultArgon2Params
	longer.KeyLength = 64
	for _, tc := range []struct {
		name    string
		params  Argon2Params
		encoded string
		want    bool
	}{
		{"same parameters", DefaultArgon2Params, string(h), false},
		{"more memory", stronger, string(h), true},
		{"longer key", longer, string(h), true},
		{"reference parameters", DefaultArgon2Params, knownAnswers[0].encoded, true},
		{"reference parameters, matching", Argon2Params{Memory: 65536, Time: 2, Threads: 1, SaltLength: 8, KeyLength: 32}, knownAnswers[0].encoded, false},
		{"empty", DefaultArgon2Params, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.params.NeedsRehash([]byte(tc.encoded)); got != tc.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestArgon2ParamsValidate(t *testing.T) {
	if err := DefaultArgon2Params.Validate(); err != nil {
		t.Fatalf("DefaultArgon2Params: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(p *Argon2Params)
	}{
		{"no threads", func(p *Argon2Params) { p.Threads = 0 }},
		{"memory below 8×p", func(p *Argon2Params) { p.Threads = 4; p.Memory = 31 }},
		{"memory too large", func(p *Argon2Params) { p.Memory = 1 << 22 }},
		{"no time", func(p *Argon2Params) { p.Time = 0 }},
		{"short salt", func(p *Argon2Params) { p.SaltLength = 4 }},
		{"short key", func(p *Argon2Params) { p.KeyLength = 8 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := DefaultArgon2Params
			tc.change(&p)
			if err := p.Validate(); err == nil {
				t.Errorf("Validate(%+v) succeeded", p)
			}
			if _, err := p.Hash("password"); err == nil {
				t.Errorf("Hash with %+v succeeded", p)
			}
		})
	}
}

func TestVerifyNoUser(t *testing.T) {
	if VerifyNoUser("password") {
		t.Error("VerifyNoUser matched")
	}
	if _, _, _, err := decodeHash(dummyHash()); err != nil {
		t.Errorf("the dummy hash is malformed: %v", err)
	}
}
