// Package randid makes the random identifiers of the authorization server's
// objects, in the shape of Auth0's.
//
// It imports nothing of Portcullis.
package randid

import "crypto/rand"

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// New returns prefix followed by n random alphanumeric characters.
func New(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b) // never returns an error; it crashes the program instead
	for i := range b {
		// 62 does not divide 256: the bias (under 2% per character) does
		// not matter for identifiers, which are not secrets.
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}
