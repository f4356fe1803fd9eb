package keys

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func testKEK(t *testing.T, fill byte) *KEK {
	t.Helper()
	k, err := NewKEK(bytes.Repeat([]byte{fill}, KEKSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewKEKRefusesOtherLengths(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewKEK(make([]byte, n)); err == nil || !strings.Contains(err.Error(), "must be 32 bytes") {
			t.Errorf("NewKEK of %d bytes: %v", n, err)
		}
	}
}

func TestSealAndOpenKeys(t *testing.T) {
	kek := testKEK(t, 1)
	plain, _ := Complete(nil, domain, now)
	sealed, err := kek.SealKeys(plain)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range sealed {
		if !k.Encrypted() || plain[i].Encrypted() {
			t.Fatalf("key %s: Encrypted sealed %v, plain %v", k.KID, k.Encrypted(), plain[i].Encrypted())
		}
		if bytes.Contains(k.PrivateJWK, []byte(`"d"`)) || !bytes.HasPrefix(k.PrivateJWK, []byte(`"enc:v1:`)) {
			t.Fatalf("sealed key %s = %s", k.KID, k.PrivateJWK)
		}
		if k.KID != plain[i].KID || k.Alg != plain[i].Alg || k.State != plain[i].State {
			t.Fatalf("sealing changed more than the private key: %+v", k)
		}
	}
	again, err := kek.SealKeys(sealed)
	if err != nil || !reflect.DeepEqual(again, sealed) {
		t.Fatalf("sealing sealed keys changed them (%v)", err)
	}
	opened, err := kek.OpenKeys(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(opened, plain) {
		t.Fatal("opened keys differ from the plaintext ones")
	}
	if _, err := NewRing(opened); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRing(sealed); err == nil {
		t.Fatal("NewRing took encrypted keys")
	}
	// The same key sealed twice gives two ciphertexts (random nonces).
	twice, _ := kek.SealKeys(plain[:1])
	if bytes.Equal(twice[0].PrivateJWK, sealed[0].PrivateJWK) {
		t.Fatal("two encryptions of one key are equal")
	}
}

func TestOpenKeysFailsClosed(t *testing.T) {
	kek := testKEK(t, 1)
	plain, _ := Complete(nil, domain, now)
	sealed, _ := kek.SealKeys(plain)

	if _, err := testKEK(t, 2).OpenKeys(sealed); !errors.Is(err, ErrWrongKEK) {
		t.Errorf("OpenKeys with another KEK = %v, want ErrWrongKEK", err)
	}
	var none *KEK
	if _, err := none.OpenKeys(sealed); !errors.Is(err, ErrNoKEK) {
		t.Errorf("OpenKeys without a KEK = %v, want ErrNoKEK", err)
	}
	if got, err := none.OpenKeys(plain); err != nil || !reflect.DeepEqual(got, plain) {
		t.Errorf("OpenKeys of plaintext keys without a KEK = %v", err)
	}
	if got, _ := none.SealKeys(plain); !reflect.DeepEqual(got, plain) {
		t.Error("SealKeys without a KEK changed the keys")
	}

	tamper := func(name string, change func(k *SigningKey)) {
		t.Helper()
		ks := append([]SigningKey(nil), sealed...)
		change(&ks[0])
		_, err := kek.OpenKeys(ks)
		if err == nil || errors.Is(err, ErrWrongKEK) || !strings.Contains(err.Error(), ks[0].KID) {
			t.Errorf("%s: OpenKeys = %v", name, err)
		}
	}
	// A ciphertext moved onto another key does not decrypt: the kid and
	// the algorithm are authenticated.
	tamper("swapped ciphertexts", func(k *SigningKey) { k.PrivateJWK = sealed[1].PrivateJWK })
	tamper("another algorithm", func(k *SigningKey) { k.Alg = sealed[len(sealed)-1].Alg })
	tamper("a flipped character", func(k *SigningKey) {
		b := bytes.Clone(k.PrivateJWK)
		b[len(b)-3] ^= 1
		k.PrivateJWK = b
	})
	tamper("an unknown version", func(k *SigningKey) {
		k.PrivateJWK = bytes.Replace(k.PrivateJWK, []byte("enc:v1:"), []byte("enc:v9:"), 1)
	})
}

func TestSealAndOpenSecret(t *testing.T) {
	kek := testKEK(t, 1)
	secret := []byte("THE-SECRET")
	sealed := kek.SealSecret("one", secret)
	if !IsEncryptedSecret(sealed) || bytes.Contains(sealed, secret) {
		t.Fatalf("sealed secret = %q", sealed)
	}
	if got, err := kek.OpenSecret("one", sealed); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("OpenSecret = %q, %v", got, err)
	}
	if _, err := kek.OpenSecret("two", sealed); err == nil || errors.Is(err, ErrWrongKEK) {
		t.Errorf("OpenSecret under another name = %v", err)
	}
	if _, err := testKEK(t, 2).OpenSecret("one", sealed); !errors.Is(err, ErrWrongKEK) {
		t.Errorf("OpenSecret with another KEK = %v", err)
	}
	var none *KEK
	if _, err := none.OpenSecret("one", sealed); !errors.Is(err, ErrNoKEK) {
		t.Errorf("OpenSecret without a KEK = %v", err)
	}
	if got := none.SealSecret("one", secret); !bytes.Equal(got, secret) {
		t.Errorf("SealSecret without a KEK = %q", got)
	}
	if got, err := kek.OpenSecret("one", secret); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("OpenSecret of a plaintext secret = %q, %v", got, err)
	}
}
