package transfer

import "testing"

func TestKeySet(t *testing.T) {
	var s keySet
	if got := s.get(42); got != 0 {
		t.Fatalf("empty set: get = %d, want 0", got)
	}
	// Enough keys to grow the table several times; hashes that share low
	// bits collide in the probe sequence.
	const n = 5 * keySetMinSize
	for i := 1; i <= n; i++ {
		s.put(uint64(i)<<20, int32(i+2))
	}
	s.put(0, 7) // hash 0 is stored as 1
	s.put(1<<20, 99)
	for i := 1; i <= n; i++ {
		if got := s.get(uint64(i) << 20); got != int32(i+2) {
			t.Fatalf("get(%d<<20) = %d, want %d (the first line kept)", i, got, i+2)
		}
	}
	if got := s.get(0); got != 7 {
		t.Errorf("get(0) = %d, want 7", got)
	}
	if got := s.get(12345); got != 0 {
		t.Errorf("get of an absent hash = %d, want 0", got)
	}
	if s.n != n+1 {
		t.Errorf("n = %d, want %d", s.n, n+1)
	}
	if 4*s.n > 3*len(s.hashes) {
		t.Errorf("table of %d slots holds %d keys: over three quarters full", len(s.hashes), s.n)
	}
}
