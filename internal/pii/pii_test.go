package pii_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kopilka/kopilka/internal/pii"
)

func ring(t *testing.T) *pii.Ring {
	t.Helper()
	r, err := pii.Generate()
	if err != nil {
		t.Fatalf("Generate() = %v", err)
	}
	return r
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	r := ring(t)
	s := r.Seal("+79161234567", "ten\x00cus\x00phone")
	if strings.Contains(s, "9161234567") || pii.KeyOf(s) != r.Current() {
		t.Fatalf("Seal = %q, want the value hidden behind key %s", s, r.Current())
	}
	if s2 := r.Seal("+79161234567", "ten\x00cus\x00phone"); s2 == s {
		t.Errorf("two seals of one value are equal (%q): the nonce must be fresh", s)
	}
	got, err := r.Open(s, "ten\x00cus\x00phone")
	if err != nil || got != "+79161234567" {
		t.Errorf("Open = %q, %v; want the phone", got, err)
	}
	if _, err := r.Open(s, "ten\x00other\x00phone"); !errors.Is(err, pii.ErrCorrupt) {
		t.Errorf("Open in another row's context = %v, want ErrCorrupt", err)
	}
	tampered := s[:len(s)-2] + "AA"
	if tampered == s {
		tampered = s[:len(s)-2] + "BB"
	}
	if _, err := r.Open(tampered, "ten\x00cus\x00phone"); !errors.Is(err, pii.ErrCorrupt) {
		t.Errorf("Open(tampered) = %v, want ErrCorrupt", err)
	}
	if _, err := ring(t).Open(s, "ten\x00cus\x00phone"); !errors.Is(err, pii.ErrUnknownKey) {
		t.Errorf("Open with another ring = %v, want ErrUnknownKey", err)
	}
	if s := r.Seal("", "x"); s != "" {
		t.Errorf(`Seal("") = %q, want ""`, s)
	}
}

func TestIndex(t *testing.T) {
	t.Parallel()
	r := ring(t)
	a := r.Index("phone", "ten_a", "+79161234567")
	if a != r.Index("phone", "ten_a", "+79161234567") || len(a) != 22 {
		t.Errorf("Index = %q, want 22 characters, the same every time", a)
	}
	for _, other := range []string{r.Index("phone", "ten_b", "+79161234567"), r.Index("email", "ten_a", "+79161234567"),
		ring(t).Index("phone", "ten_a", "+79161234567")} {
		if other == a {
			t.Errorf("Index of another tenant, kind or key = %q, equal to %q", other, a)
		}
	}
}

func TestRotated(t *testing.T) {
	t.Parallel()
	r := ring(t)
	old := r.Seal("Анна", "c")
	n, err := r.Rotated()
	if err != nil {
		t.Fatal(err)
	}
	if n.Current() == r.Current() || len(n.KeyIDs()) != 2 {
		t.Fatalf("Rotated: current %s, keys %v; want a new current key beside the old", n.Current(), n.KeyIDs())
	}
	if got, err := n.Open(old, "c"); err != nil || got != "Анна" {
		t.Errorf("the rotated ring opens an old value as %q, %v", got, err)
	}
	if n.Index("name", "t", "анна") != r.Index("name", "t", "анна") {
		t.Error("rotation changed the blind index: lookups would miss")
	}
}

func TestLoadOrCreate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kopilka.keys")
	r, created, err := pii.LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("LoadOrCreate(new) = %v, %v; want created", created, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode(), err)
	}
	again, created, err := pii.LoadOrCreate(path)
	if err != nil || created {
		t.Fatalf("LoadOrCreate(existing) = %v, %v; want loaded", created, err)
	}
	if again.Check() != r.Check() || again.Current() != r.Current() {
		t.Error("the key file read back holds other keys")
	}
	n, _ := r.Rotated()
	if err := pii.Save(path, n); err != nil {
		t.Fatal(err)
	}
	back, err := pii.Load(path)
	if err != nil || back.Current() != n.Current() || len(back.KeyIDs()) != 2 {
		t.Errorf("Load after Save = %v; want the rotated ring", err)
	}
	if err := os.WriteFile(path, []byte(`{"version":1,"current":"k1","data_keys":{"k1":"c2hvcnQ="},"index_key":""}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := pii.Load(path); err == nil {
		t.Error("Load of a key file with short keys = nil, want an error")
	}
}

func TestNameTokens(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"Simple", "Пётр", []string{"петр"}},
		{"Hyphen", "Петрова-Водкина", []string{"петрова", "водкина"}},
		{"Spaces", "  Анна  Мария ", []string{"анна", "мария"}},
		{"Empty", "", []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, pii.NameTokens(tt.in)); d != "" {
				t.Errorf("NameTokens(%q) mismatch (-want +got):\n%s", tt.in, d)
			}
		})
	}
}
