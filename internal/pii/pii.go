// Package pii keeps customers' personal data unreadable at rest: a key
// ring (data keys for AES-256-GCM by id, one current, and a separate key
// for blind indexes), kept in a file outside the database.
//
// A sealed value is "KEYID:" followed by the base64 of nonce, ciphertext
// and tag; it names the key that sealed it, so that a rotation can
// re-seal rows one by one while the old keys still open the rest. Blind
// indexes are keyed HMAC-SHA256 digests bound to the tenant, which let
// the database find equal values (a phone, an e-mail, a name) without
// holding them.
//
// The package uses the standard library only; the storage layer is its
// one user, so every path (API, import, export, commands) goes through it.
package pii

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"unicode"
)

// KeySize is the length of every key: 256 bits.
const KeySize = 32

// ErrUnknownKey is returned when a value names a data key the ring does
// not hold: the database was sealed with another key file.
var ErrUnknownKey = errors.New("the key file has no such data key")

// ErrCorrupt is returned when a sealed value does not open: it was
// altered, moved to another row, or sealed by a different key that had
// the same id.
var ErrCorrupt = errors.New("a sealed value does not open")

// Ring holds the data keys, the current one, and the index key. A Ring
// is safe for concurrent use once built.
type Ring struct {
	current string
	keys    map[string][]byte
	aeads   map[string]cipher.AEAD
	index   []byte
	macs    sync.Pool // of hash.Hash keyed with index
}

// New builds a ring from its keys; current must be one of data.
func New(current string, data map[string][]byte, index []byte) (*Ring, error) {
	if len(index) != KeySize {
		return nil, fmt.Errorf("the index key is %d bytes, want %d", len(index), KeySize)
	}
	if _, ok := data[current]; !ok {
		return nil, fmt.Errorf("the current data key %q is not among the data keys", current)
	}
	r := &Ring{current: current, keys: map[string][]byte{}, aeads: map[string]cipher.AEAD{}, index: clone(index)}
	for id, k := range data {
		if err := r.add(id, k); err != nil {
			return nil, err
		}
	}
	r.macs.New = func() any { return hmac.New(sha256.New, r.index) }
	return r, nil
}

func (r *Ring) add(id string, k []byte) error {
	if !validID(id) {
		return fmt.Errorf("data key id %q: use 1 to 32 letters, digits, '-' or '_'", id)
	}
	if len(k) != KeySize {
		return fmt.Errorf("data key %q is %d bytes, want %d", id, len(k), KeySize)
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	r.keys[id], r.aeads[id] = clone(k), aead
	return nil
}

func validID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !(c < unicode.MaxASCII && (unicode.IsLetter(c) || unicode.IsDigit(c)) || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// Generate makes a ring with one fresh data key and a fresh index key.
func Generate() (*Ring, error) {
	id, key := NewKeyID(), make([]byte, KeySize)
	index := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if _, err := rand.Read(index); err != nil {
		return nil, err
	}
	return New(id, map[string][]byte{id: key}, index)
}

// NewKeyID returns a random data key id ("k" and 8 hex digits): random,
// so that two key files never name different keys alike.
func NewKeyID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "k" + hex.EncodeToString(b[:])
}

// Rotated returns a copy of the ring with a fresh data key that is
// current; the old keys stay, to open what they sealed. The index key is
// kept: the blind indexes stay valid.
func (r *Ring) Rotated() (*Ring, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	data := map[string][]byte{}
	for id, k := range r.keys {
		data[id] = k
	}
	id := NewKeyID()
	for data[id] != nil {
		id = NewKeyID()
	}
	data[id] = key
	return New(id, data, r.index)
}

// Current is the id of the key new values are sealed with.
func (r *Ring) Current() string { return r.current }

// KeyIDs lists the ids of the data keys.
func (r *Ring) KeyIDs() []string {
	out := make([]string, 0, len(r.keys))
	for id := range r.keys {
		out = append(out, id)
	}
	return out
}

// Seal encrypts value with the current key, binding it to context (the
// tenant, row and field it belongs to: a sealed value copied to another
// row or field does not open). The empty value stays empty.
func (r *Ring) Seal(value, context string) string {
	if value == "" {
		return ""
	}
	aead := r.aeads[r.current]
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		panic("pii: crypto/rand failed: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	sealed := aead.Seal(buf, buf, []byte(value), []byte(context))
	var s strings.Builder
	s.Grow(len(r.current) + 1 + base64.RawStdEncoding.EncodedLen(len(sealed)))
	s.WriteString(r.current)
	s.WriteByte(':')
	s.WriteString(base64.RawStdEncoding.EncodeToString(sealed))
	return s.String()
}

// Open decrypts a value Seal made with the same context. The empty value
// opens to empty. ErrUnknownKey or ErrCorrupt, wrapped with the key id.
func (r *Ring) Open(sealed, context string) (string, error) {
	if sealed == "" {
		return "", nil
	}
	id, body, ok := strings.Cut(sealed, ":")
	if !ok {
		return "", fmt.Errorf("%w: no key id", ErrCorrupt)
	}
	aead, ok := r.aeads[id]
	if !ok {
		return "", fmt.Errorf("personal data sealed with key %q: %w (start with the key file that holds it)", id, ErrUnknownKey)
	}
	raw, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return "", fmt.Errorf("key %q: %w: not base64 of a sealed value", id, ErrCorrupt)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, raw[:n], raw[n:], []byte(context))
	if err != nil {
		return "", fmt.Errorf("key %q: %w", id, ErrCorrupt)
	}
	return string(plain), nil
}

// KeyOf returns the id of the key that sealed a value ("" for the empty
// value or one that names none).
func KeyOf(sealed string) string {
	id, _, ok := strings.Cut(sealed, ":")
	if !ok {
		return ""
	}
	return id
}

// Index is the blind index of a value of a kind ("phone", "email",
// "name", "md" …) in a tenant: HMAC-SHA256 under the index key of kind,
// tenant and value, cut to 128 bits and base64-encoded (22 characters).
// The caller normalises the value (E.164 phones, lower-case e-mails,
// NameToken). The empty value has the empty index.
func (r *Ring) Index(kind, tenantID, value string) string {
	if value == "" {
		return ""
	}
	m := r.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(tenantID))
	m.Write([]byte{0})
	m.Write([]byte(value))
	var sum [sha256.Size]byte
	out := base64.RawURLEncoding.EncodeToString(m.Sum(sum[:0])[:16])
	r.macs.Put(m)
	return out
}

// Check is a digest of the index key that a database keeps, so that a
// ring with another index key (whose lookups would silently find
// nothing) is refused at start.
func (r *Ring) Check() string { return r.Index("check", "kopilka", "index key") }

// NameTokens splits a name into the tokens a name search matches: words
// separated by spaces or hyphens, lower-cased, with ё read as е.
func NameTokens(name string) []string {
	f := strings.FieldsFunc(NormalizeName(name), func(c rune) bool { return unicode.IsSpace(c) || c == '-' || c == '‐' || c == '–' })
	return f
}

// NormalizeName lower-cases a name and reads ё as е.
func NormalizeName(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "ё", "е")
}
