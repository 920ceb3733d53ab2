package transfer

// keySet maps 64-bit hashes of a file's keys to the line that first had
// each: an open-addressing table of 12 bytes a slot, where a Go map took
// over 50 bytes an entry (160 MB of heap for the three million keys of a
// million rows, which the import then held on to beside SQLite's pages).
// Hash 0 marks a free slot, so a key hashing to 0 is stored as 1.
type keySet struct {
	hashes []uint64
	lines  []int32
	n      int
}

// keySetMinSize is a new table's slots.
const keySetMinSize = 1 << 12

// get returns the line that had h, or 0.
func (s *keySet) get(h uint64) int32 {
	if s.n == 0 {
		return 0
	}
	h = max(h, 1)
	mask := uint64(len(s.hashes) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.hashes[i] {
		case h:
			return s.lines[i]
		case 0:
			return 0
		}
	}
}

// put records that line had h, unless an earlier line did.
func (s *keySet) put(h uint64, line int32) {
	if 4*(s.n+1) > 3*len(s.hashes) {
		s.grow()
	}
	h = max(h, 1)
	mask := uint64(len(s.hashes) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.hashes[i] {
		case h:
			return
		case 0:
			s.hashes[i], s.lines[i] = h, line
			s.n++
			return
		}
	}
}

// grow doubles the table (keeping it at most three quarters full).
func (s *keySet) grow() {
	old, oldLines := s.hashes, s.lines
	size := max(keySetMinSize, 2*len(old))
	s.hashes, s.lines = make([]uint64, size), make([]int32, size)
	mask := uint64(size - 1)
	for j, h := range old {
		if h == 0 {
			continue
		}
		i := h & mask
		for s.hashes[i] != 0 {
			i = (i + 1) & mask
		}
		s.hashes[i], s.lines[i] = h, oldLines[j]
	}
}
