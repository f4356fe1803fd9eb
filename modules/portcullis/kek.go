package portcullis

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/portcullis-gw/portcullis/authserver/keys"
)

// decodeKEK decodes a key_encryption_key: keys.KEKSize bytes written as
// base64 (standard or URL alphabet, padded or not) or as hex digits,
// with surrounding white space trimmed. Its errors never show the value.
func decodeKEK(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if len(v) == 2*keys.KEKSize {
		if b, err := hex.DecodeString(v); err == nil {
			return b, nil
		}
	}
	b64 := strings.NewReplacer("-", "+", "_", "/").Replace(strings.TrimRight(v, "="))
	b, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("key_encryption_key must be %d bytes written as base64 or %d hex digits (such as the output of openssl rand -base64 %d), but its %d characters are neither",
			keys.KEKSize, 2*keys.KEKSize, keys.KEKSize, len(v))
	}
	if len(b) != keys.KEKSize {
		return nil, fmt.Errorf("key_encryption_key must be %d bytes, but its base64 is %d bytes (make one with openssl rand -base64 %d)",
			keys.KEKSize, len(b), keys.KEKSize)
	}
	return b, nil
}

// resolveKEK replaces the placeholders of a configured key_encryption_key
// and decodes it; none configured is nil. A placeholder that is unknown or
// empty, such as an unset environment variable, is an error rather than
// no key, so that a missing secret never means plaintext keys.
func resolveKEK(repl *caddy.Replacer, configured string) ([]byte, error) {
	if configured == "" {
		return nil, nil
	}
	v, err := repl.ReplaceOrErr(configured, true, true)
	if err != nil {
		return nil, fmt.Errorf("key_encryption_key: %w", err)
	}
	return decodeKEK(v)
}
