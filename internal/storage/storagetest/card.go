package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// testCards covers cards, card ranges and the tenant settings they use.
func testCards(t *testing.T, db storage.DB) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, db storage.DB)
	}{
		{"CreateAndFind", testCardCreateAndFind},
		{"ConflictKeepsTransaction", testCardConflictKeepsTransaction},
		{"Status", testCardStatus},
		{"Identify", testCardIdentify},
		{"Numbers", testCardNumbers},
		{"Ranges", testCardRanges},
		{"RangeCounter", testCardRangeCounter},
		{"Settings", testTenantSettings},
		{"Isolation", testCardIsolation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.test(t, db)
		})
	}
}

func newCard(t *testing.T, db storage.DB, tenantID string, k *kopilka.Card) {
	t.Helper()
	mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCard(t.Context(), tenantID, k) })
}

func testCardCreateAndFind(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	c := newCustomer(t, db, tenantID, "", "P-1")
	e := &kopilka.Card{Number: "46000017", CustomerID: c.ID, Kind: kopilka.CardElectronic, Status: kopilka.CardActive, RangeID: "rng_1"}
	newCard(t, db, tenantID, e)
	if e.CreatedAt.IsZero() {
		t.Errorf("CreateCard(%s).CreatedAt is zero, want the transaction's time", e.Number)
	}
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetCard(ctx, tenantID, e.Number)
		checkErr(t, "GetCard", err, nil)
		diff(t, "GetCard", e, got)
		_, err = tx.GetCard(ctx, tenantID, "46000018")
		checkErr(t, "GetCard(unknown)", err, storage.ErrNotFound)

		cus, err := tx.GetCustomer(ctx, tenantID, c.ID, false)
		checkErr(t, "GetCustomer", err, nil)
		if err == nil {
			diff(t, "GetCustomer cards", []kopilka.Card{c.Cards[0], *e}, cus.Cards)
		}
		for _, tc := range []struct {
			name    string
			numbers []string
			want    string
			err     error
		}{
			{"First", []string{"46000017", "P-1"}, "46000017", nil},
			{"OrderDecides", []string{"P-1", "46000017"}, "P-1", nil},
			{"SkipsUnknown", []string{"nope", "x", "P-1"}, "P-1", nil},
			{"One", []string{"P-1"}, "P-1", nil},
			{"None", []string{"nope", "x"}, "", storage.ErrNotFound},
		} {
			got, err := tx.FindCard(ctx, tenantID, tc.numbers)
			checkErr(t, "FindCard("+tc.name+")", err, tc.err)
			if err == nil && got.Number != tc.want {
				t.Errorf("FindCard(%q) = %s, want %s", tc.numbers, got.Number, tc.want)
			}
		}
		return nil
	})
}

// testCardConflictKeepsTransaction: a taken number is ErrConflict, and the
// same transaction goes on to issue another number (on PostgreSQL a
// failed INSERT would abort the transaction).
func testCardConflictKeepsTransaction(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	c := newCustomer(t, db, tenantID, "", "100")
	mustWrite(t, db, func(tx storage.Tx) error {
		err := tx.CreateCard(ctx, tenantID, &kopilka.Card{Number: "100", CustomerID: c.ID})
		checkErr(t, "CreateCard(taken)", err, storage.ErrConflict)
		return tx.CreateCard(ctx, tenantID, &kopilka.Card{Number: "101", CustomerID: c.ID})
	})
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetCard(ctx, tenantID, "101")
		checkErr(t, "GetCard(101)", err, nil)
		if err == nil && (got.CustomerID != c.ID || got.Status != kopilka.CardActive || got.Kind != kopilka.CardPlastic) {
			t.Errorf("GetCard(101) = %+v, want an active plastic card of %s", got, c.ID)
		}
		return nil
	})
}

func testCardStatus(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	c := newCustomer(t, db, tenantID, "", "200", "201")
	steps := []struct {
		name               string
		number, from, to   string
		replacedBy         string
		err                error
		wantStatus, wantBy string
	}{
		{"Block", "200", "active", "blocked", "", nil, "blocked", ""},
		{"BlockAgain", "200", "active", "blocked", "", storage.ErrNotFound, "blocked", ""},
		{"Unblock", "200", "blocked", "active", "", nil, "active", ""},
		{"Replace", "200", "active", "replaced", "201", nil, "replaced", "201"},
		{"UnknownCard", "299", "active", "blocked", "", storage.ErrNotFound, "", ""},
	}
	for _, s := range steps {
		err := db.Write(ctx, func(tx storage.Tx) error {
			return tx.SetCardStatus(ctx, tenantID, s.number, s.from, s.to, s.replacedBy)
		})
		checkErr(t, "SetCardStatus("+s.name+")", err, s.err)
		if s.wantStatus == "" {
			continue
		}
		mustRead(t, db, func(tx storage.Tx) error {
			got, err := tx.GetCard(ctx, tenantID, s.number)
			checkErr(t, s.name+": GetCard", err, nil)
			if err == nil && (got.Status != s.wantStatus || got.ReplacedBy != s.wantBy || got.CustomerID != c.ID) {
				t.Errorf("%s: GetCard(%s) = %+v, want status %s, replaced by %q", s.name, s.number, got, s.wantStatus, s.wantBy)
			}
			return nil
		})
	}
}

// testCardIdentify: only active cards identify their holder in
// CustomerByRef, which also takes barcode scans.
func testCardIdentify(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	a := newCustomer(t, db, tenantID, "", "460000000001", "46000001", "BLOCKED-1", "460000000002")
	// b's number is the EAN-13 barcode of a's 460000000002: the longer,
	// exact match wins.
	b := newCustomer(t, db, tenantID, "", "4600000000022")
	mustWrite(t, db, func(tx storage.Tx) error {
		return tx.SetCardStatus(ctx, tenantID, "BLOCKED-1", kopilka.CardActive, kopilka.CardBlocked, "")
	})
	for _, tc := range []struct {
		name, value, want string
		err               error
	}{
		{"Number", "46000001", a.ID, nil},
		{"ScannedEAN13", "4600000000015", a.ID, nil},       // 460000000001 + its EAN check digit
		{"ScannedPaddedEAN13", "0000460000015", a.ID, nil}, // 46000001 padded to 12 digits + check digit
		{"FullNumberWinsOverItsBody", "4600000000022", b.ID, nil},
		{"Body", "460000000002", a.ID, nil},
		{"Blocked", "BLOCKED-1", "", storage.ErrNotFound},
		{"BadCheckDigit", "4600000000016", "", storage.ErrNotFound},
		{"Unknown", "99", "", storage.ErrNotFound},
	} {
		for _, lock := range []bool{false, true} {
			var got *kopilka.Customer
			err := db.Write(ctx, func(tx storage.Tx) error {
				var err error
				got, err = tx.CustomerByRef(ctx, tenantID, "card", tc.value, lock)
				return err
			})
			checkErr(t, fmt.Sprintf("CustomerByRef(card %s, lock=%v)", tc.name, lock), err, tc.err)
			if err == nil && got.ID != tc.want {
				t.Errorf("CustomerByRef(card %s %s, lock=%v) = %s, want %s", tc.name, tc.value, lock, got.ID, tc.want)
			}
		}
	}
}

func testCardNumbers(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	newCustomer(t, db, tenantID, "", "46000001", "46000002", "46000010", "4600001", "460000100", "47000001", "46000A03", "46A00003")
	var pages [][]string
	mustRead(t, db, func(tx storage.Tx) error {
		after := ""
		for {
			page, err := tx.CardNumbers(ctx, tenantID, "46000000", "46999999", 8, after, 2)
			checkErr(t, "CardNumbers", err, nil)
			if err != nil || len(page) == 0 {
				return nil
			}
			pages = append(pages, page)
			after = page[len(page)-1]
		}
	})
	// Every 8-character number between the two; the caller checks which
	// are the range's (46000A03 is not).
	diff(t, "CardNumbers pages", [][]string{{"46000001", "46000002"}, {"46000010", "46000A03"}}, pages)
	mustRead(t, db, func(tx storage.Tx) error {
		for _, tc := range []struct {
			first, last string
			length      int
			want        int64
		}{
			{"46000000", "46999999", 8, 4},
			{"46000002", "46000010", 8, 2},
			{"46000000", "46999999", 9, 1},
			{"48000000", "48999999", 8, 0},
		} {
			n, err := tx.CountCards(ctx, tenantID, tc.first, tc.last, tc.length)
			checkErr(t, "CountCards", err, nil)
			if n != tc.want {
				t.Errorf("CountCards(%s, %s, %d) = %d, want %d", tc.first, tc.last, tc.length, n, tc.want)
			}
		}
		return nil
	})
}

func newRange(tenantID, prefix string, width int) *kopilka.CardRange {
	return &kopilka.CardRange{ID: kopilka.NewID("rng"), TenantID: tenantID, Name: "range " + prefix, Prefix: prefix,
		Start: 1, End: kopilka.MaxSeq(width), Width: width, CheckDigit: kopilka.CheckLuhn, Kind: kopilka.CardElectronic, Next: 1}
}

func testCardRanges(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	r1, r2 := newRange(tenantID, "46", 6), newRange(tenantID, "47", 4)
	r2.CheckDigit, r2.Kind, r2.Start, r2.Next = kopilka.CheckNone, "", 0, 0
	for _, r := range []*kopilka.CardRange{r1, r2} {
		mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCardRange(ctx, r) })
		if r.CreatedAt.IsZero() {
			t.Errorf("CreateCardRange(%s).CreatedAt is zero", r.ID)
		}
	}
	dup := *r1
	err := db.Write(ctx, func(tx storage.Tx) error { return tx.CreateCardRange(ctx, &dup) })
	checkErr(t, "CreateCardRange(same id)", err, storage.ErrConflict)
	mustWrite(t, db, func(tx storage.Tx) error {
		got, err := tx.GetCardRange(ctx, tenantID, r1.ID, true)
		checkErr(t, "GetCardRange(lock)", err, nil)
		diff(t, "GetCardRange(lock)", r1, got)
		checkErr(t, "SetCardRangeNext", tx.SetCardRangeNext(ctx, tenantID, r1.ID, 42), nil)
		checkErr(t, "SetCardRangeNext(unknown)", tx.SetCardRangeNext(ctx, tenantID, "rng_nope", 42), storage.ErrNotFound)
		return nil
	})
	r1.Next = 42
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetCardRange(ctx, tenantID, r1.ID, false)
		checkErr(t, "GetCardRange", err, nil)
		diff(t, "GetCardRange after SetCardRangeNext", r1, got)
		_, err = tx.GetCardRange(ctx, tenantID, "rng_nope", false)
		checkErr(t, "GetCardRange(unknown)", err, storage.ErrNotFound)
		list, err := tx.ListCardRanges(ctx, tenantID)
		checkErr(t, "ListCardRanges", err, nil)
		diff(t, "ListCardRanges", []kopilka.CardRange{*r1, *r2}, list)
		return nil
	})
	// The counter stays within start … end+1.
	err = db.Write(ctx, func(tx storage.Tx) error { return tx.SetCardRangeNext(ctx, tenantID, r2.ID, r2.End+2) })
	if err == nil {
		t.Errorf("SetCardRangeNext(end+2) = nil, want the database to refuse it")
	}
}

// testCardRangeCounter: writes that lock the range, read the counter,
// issue its number and move it, racing, issue every number once and in
// order: the row lock serialises them on both databases.
func testCardRangeCounter(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	c := newCustomer(t, db, tenantID, "")
	r := newRange(tenantID, "46", 6)
	mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCardRange(ctx, r) })
	const n = 40
	var (
		mu     sync.Mutex
		issued []int64
		wg     sync.WaitGroup
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			var seq int64
			err := db.Write(ctx, func(tx storage.Tx) error {
				got, err := tx.GetCardRange(ctx, tenantID, r.ID, true)
				if err != nil {
					return err
				}
				seq = got.Next
				if err := tx.CreateCard(ctx, tenantID, &kopilka.Card{Number: got.Number(seq), CustomerID: c.ID, RangeID: r.ID}); err != nil {
					return err
				}
				return tx.SetCardRangeNext(ctx, tenantID, r.ID, seq+1)
			})
			checkErr(t, "Write(issue)", err, nil)
			if err == nil {
				mu.Lock()
				issued = append(issued, seq)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if err := consecutive(issued, 1); err != nil {
		t.Errorf("%d racing issues: %v", n, err)
	}
	// Negative control of the check.
	if consecutive([]int64{1, 2, 2, 4}, 1) == nil || consecutive([]int64{1, 3}, 1) == nil {
		t.Error("consecutive accepts a duplicate or a gap")
	}
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetCardRange(ctx, tenantID, r.ID, false)
		checkErr(t, "GetCardRange", err, nil)
		if err == nil && got.Next != n+1 {
			t.Errorf("after %d issues the counter = %d, want %d", n, got.Next, n+1)
		}
		cnt, err := tx.CountCards(ctx, tenantID, r.Number(1), r.Number(n), r.Len())
		checkErr(t, "CountCards", err, nil)
		if cnt != n {
			t.Errorf("CountCards(the first %d numbers) = %d, want %d", n, cnt, n)
		}
		return nil
	})
}

// consecutive reports an error unless seqs are from, from+1, … in some
// order: no number twice and none skipped.
func consecutive(seqs []int64, from int64) error {
	s := slices.Sorted(slices.Values(seqs))
	for i, v := range s {
		if v != from+int64(i) {
			return fmt.Errorf("sequence numbers %v are not %d… without gaps or repeats", s, from)
		}
	}
	return nil
}

func testTenantSettings(t *testing.T, db storage.DB) {
	ctx := t.Context()
	tenantID := newTenant(t, db)
	want := kopilka.TenantSettings{AllowLegalEntities: true, ElectronicDeactivatesPlastic: true, ElectronicCardGroup: "Электронная карта"}
	mustWrite(t, db, func(tx storage.Tx) error {
		checkErr(t, "LockTenant", tx.LockTenant(ctx, tenantID), nil)
		checkErr(t, "SetTenantSettings", tx.SetTenantSettings(ctx, tenantID, want), nil)
		return nil
	})
	err := db.Write(ctx, func(tx storage.Tx) error { return tx.LockTenant(ctx, "ten_nope") })
	checkErr(t, "LockTenant(unknown)", err, storage.ErrNotFound)
	err = db.Write(ctx, func(tx storage.Tx) error { return tx.SetTenantSettings(ctx, "ten_nope", want) })
	checkErr(t, "SetTenantSettings(unknown)", err, storage.ErrNotFound)
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetTenant(ctx, tenantID)
		checkErr(t, "GetTenant", err, nil)
		if err == nil {
			diff(t, "GetTenant settings", want, got.Settings)
		}
		return nil
	})
}

// testCardIsolation: another tenant's cards and ranges are invisible and
// unchangeable with one's own tenant id.
func testCardIsolation(t *testing.T, db storage.DB) {
	ctx := t.Context()
	a, b := newTenant(t, db), newTenant(t, db)
	cb := newCustomer(t, db, b, "", "46000001")
	rb := newRange(b, "46", 6)
	mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCardRange(ctx, rb) })
	mustWrite(t, db, func(tx storage.Tx) error {
		_, err := tx.GetCard(ctx, a, "46000001")
		checkErr(t, "GetCard(B's card as A)", err, storage.ErrNotFound)
		_, err = tx.FindCard(ctx, a, []string{"46000001", "x"})
		checkErr(t, "FindCard(B's card as A)", err, storage.ErrNotFound)
		checkErr(t, "SetCardStatus(B's card as A)", tx.SetCardStatus(ctx, a, "46000001", kopilka.CardActive, kopilka.CardBlocked, ""), storage.ErrNotFound)
		_, err = tx.CustomerByRef(ctx, a, "card", "46000001", true)
		if errors.Is(err, storage.ErrRetry) {
			// Shared with another test's write, the locking lookup skips
			// busy rows and cannot tell absent from busy: the write runs
			// again alone, as every write of a batch would.
			return err
		}
		checkErr(t, "CustomerByRef(B's card as A)", err, storage.ErrNotFound)
		ns, err := tx.CardNumbers(ctx, a, "0", "z", 8, "", 10)
		checkErr(t, "CardNumbers(as A)", err, nil)
		n, err := tx.CountCards(ctx, a, "0", "z", 8)
		checkErr(t, "CountCards(as A)", err, nil)
		if len(ns) != 0 || n != 0 {
			t.Errorf("A sees B's card numbers %v (%d)", ns, n)
		}
		_, err = tx.GetCardRange(ctx, a, rb.ID, true)
		checkErr(t, "GetCardRange(B's range as A)", err, storage.ErrNotFound)
		checkErr(t, "SetCardRangeNext(B's range as A)", tx.SetCardRangeNext(ctx, a, rb.ID, 5), storage.ErrNotFound)
		list, err := tx.ListCardRanges(ctx, a)
		checkErr(t, "ListCardRanges(A)", err, nil)
		if len(list) != 0 {
			t.Errorf("ListCardRanges(A) = %v, want none of B's", list)
		}
		// A may have a card of the same number: numbers are per tenant.
		ca := &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: a, Kind: kopilka.Individual, Tags: []string{},
			Cards: []kopilka.Card{{Number: "46000001"}}}
		checkErr(t, "CreateCustomer(A, B's card number)", tx.CreateCustomer(ctx, ca), nil)
		return nil
	})
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetCard(ctx, b, "46000001")
		checkErr(t, "GetCard(B)", err, nil)
		diff(t, "B's card after A's attempts", &cb.Cards[0], got)
		r, err := tx.GetCardRange(ctx, b, rb.ID, false)
		checkErr(t, "GetCardRange(B)", err, nil)
		diff(t, "B's range after A's attempts", rb, r)
		return nil
	})
}
