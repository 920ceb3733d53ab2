package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/storage"
)

// Search runs the cases of customer search by name and tag alone, for a
// database whose search is set to take another way.
func Search(t *testing.T, db storage.DB) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, db storage.DB)
	}{{"Search", testSearch}, {"SearchPages", testSearchPages}, {"SearchTagTenant", testSearchTagTenant}} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, db) })
	}
}

// testPeople holds the cases of customer search, consents and personal
// data sealed at rest (what the storage must still do with it sealed).
func testPeople(t *testing.T, db storage.DB) {
	for _, tc := range []struct {
		name string
		test func(t *testing.T, db storage.DB)
	}{
		{"PersonalDataRoundTrip", testPersonalDataRoundTrip},
		{"PhoneUniqueSealed", testPhoneUniqueSealed},
		{"ImportSealed", testImportSealed},
		{"Search", testSearch},
		{"SearchPages", testSearchPages},
		{"ImportRefusedWhole", testImportRefusedWhole},
		{"SearchTagTenant", testSearchTagTenant},
		{"Consents", testConsents},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, db) })
	}
}

func person(tenantID, phone, email, last, first, middle, birth string, tags ...string) *kopilka.Customer {
	if tags == nil {
		tags = []string{}
	}
	return &kopilka.Customer{ID: kopilka.NewID("cus"), TenantID: tenantID, Kind: kopilka.Individual, Phone: phone,
		Email: email, LastName: last, FirstName: first, MiddleName: middle, BirthDate: birth, Tags: tags}
}

func testPersonalDataRoundTrip(t *testing.T, db storage.DB) {
	ctx := t.Context()
	ten := newTenant(t, db)
	c := person(ten, "+79161230001", "Anna.P@Example.com", "Петрова-Водкина", "Анна", "Ильинична", "1990-05-17", "vip")
	c.ExtraPhone = "+79161230009"
	mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCustomer(ctx, c) })
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.GetCustomer(ctx, ten, c.ID, false)
		if err != nil {
			return err
		}
		diff(t, "GetCustomer personal fields", []string{c.Phone, c.ExtraPhone, c.Email, c.LastName, c.FirstName, c.MiddleName, c.BirthDate},
			[]string{got.Phone, got.ExtraPhone, got.Email, got.LastName, got.FirstName, got.MiddleName, got.BirthDate})
		if id, err := tx.CustomerIDByPhone(ctx, ten, c.Phone); err != nil || id != c.ID {
			t.Errorf("CustomerIDByPhone = %q, %v; want %s", id, err, c.ID)
		}
		if ref, err := tx.CustomerByRef(ctx, ten, "phone", c.Phone, false); err != nil || ref.ID != c.ID {
			t.Errorf("CustomerByRef(phone) = %v, %v; want %s", ref, err, c.ID)
		}
		_, err = tx.CustomerIDByPhone(ctx, newTenantID(), c.Phone)
		checkErr(t, "CustomerIDByPhone in another tenant", err, storage.ErrNotFound)
		ex, err := tx.ExportCustomers(ctx, ten, storage.DefaultIntegration, "", 10)
		if err != nil || len(ex) != 1 || ex[0].Email != c.Email || ex[0].LastName != c.LastName {
			t.Errorf("ExportCustomers = %+v, %v; want the customer opened", ex, err)
		}
		return nil
	})
	c.Email, c.Phone = "new@example.com", "+79161230002"
	mustWrite(t, db, func(tx storage.Tx) error {
		if err := tx.UpdateCustomer(ctx, c); err != nil {
			return err
		}
		return tx.AddCustomerChanges(ctx, ten, []kopilka.CustomerChange{
			{CustomerID: c.ID, Field: "email", OldValue: "Anna.P@Example.com", NewValue: c.Email, Actor: "a"},
			{CustomerID: c.ID, Field: "group", OldValue: "", NewValue: "gold", Actor: "a"}})
	})
	mustRead(t, db, func(tx storage.Tx) error {
		if _, err := tx.CustomerIDByPhone(ctx, ten, "+79161230001"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("CustomerIDByPhone(old phone) = %v, want ErrNotFound", err)
		}
		if id, err := tx.CustomerIDByPhone(ctx, ten, c.Phone); err != nil || id != c.ID {
			t.Errorf("CustomerIDByPhone(new phone) = %q, %v", id, err)
		}
		ch, err := tx.ListCustomerChanges(ctx, ten, c.ID, 0, 10)
		if err != nil || len(ch) != 2 {
			t.Fatalf("ListCustomerChanges = %v, %v", ch, err)
		}
		diff(t, "history values", []string{"gold", "new@example.com", "Anna.P@Example.com"},
			[]string{ch[0].NewValue, ch[1].NewValue, ch[1].OldValue})
		return nil
	})
}

func newTenantID() string { return kopilka.NewID("ten") }

func testPhoneUniqueSealed(t *testing.T, db storage.DB) {
	ctx := t.Context()
	ten := newTenant(t, db)
	a := newCustomer(t, db, ten, "+79161230101")
	b := newCustomer(t, db, ten, "+79161230102")
	err := db.Write(ctx, func(tx storage.Tx) error { return tx.CreateCustomer(ctx, person(ten, a.Phone, "", "", "", "", "")) })
	checkErr(t, "CreateCustomer(taken phone)", err, storage.ErrConflict)
	b.Phone = a.Phone
	err = db.Write(ctx, func(tx storage.Tx) error { return tx.UpdateCustomer(ctx, b) })
	checkErr(t, "UpdateCustomer(taken phone)", err, storage.ErrConflict)
	// The same phone in another tenant is another customer.
	other := newTenant(t, db)
	newCustomer(t, db, other, a.Phone)
	// Customers without a phone never collide.
	newCustomer(t, db, ten, "")
	newCustomer(t, db, ten, "")
}

func testImportSealed(t *testing.T, db storage.DB) {
	ctx := t.Context()
	ten := newTenant(t, db)
	c := person(ten, "+79161230201", "imp@example.com", "Ёлкина", "Вера", "", "1985-12-31", "Import")
	mustWrite(t, db, func(tx storage.Tx) error {
		return tx.WriteImport(ctx, ten, &storage.ImportWrites{Customers: []*kopilka.Customer{c},
			Changes: []kopilka.CustomerChange{{CustomerID: c.ID, Field: "phone", NewValue: c.Phone, Actor: "import"}}})
	})
	mustRead(t, db, func(tx storage.Tx) error {
		m, err := tx.ImportLookup(ctx, ten, storage.DefaultIntegration, storage.ImportKeys{Phones: []string{c.Phone, "+79161230299"}})
		if err != nil {
			return err
		}
		diff(t, "ImportLookup phones", map[string]string{c.Phone: c.ID}, m.Phones)
		got, err := tx.TransferCustomers(ctx, ten, storage.DefaultIntegration, []string{c.ID}, false)
		if err != nil || len(got) != 1 || got[0].Phone != c.Phone || got[0].BirthDate != c.BirthDate {
			t.Errorf("TransferCustomers = %+v, %v; want the imported data opened", got, err)
		}
		ch, err := tx.ListCustomerChanges(ctx, ten, c.ID, 0, 10)
		if err != nil || len(ch) != 1 || ch[0].NewValue != c.Phone {
			t.Errorf("ListCustomerChanges(imported) = %+v, %v", ch, err)
		}
		found, err := tx.SearchCustomers(ctx, ten, storage.CustomerSearch{Name: "елкина", Tag: "import", Limit: 10})
		if err != nil || len(found) != 1 || found[0].ID != c.ID {
			t.Errorf("SearchCustomers(imported name and tag) = %v, %v; want the customer", ids(found), err)
		}
		bd, err := tx.BirthdayCustomers(ctx, ten, []string{"12-31"}, "birthday", "2026", 10)
		if err != nil || len(bd) != 1 {
			t.Errorf("BirthdayCustomers(12-31) = %v, %v; want the imported customer", bd, err)
		}
		return nil
	})
}

func ids(cs []kopilka.Customer) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func testSearch(t *testing.T, db storage.DB) {
	ctx := t.Context()
	ten := newTenant(t, db)
	anna := person(ten, "+79161230301", "Anna@Example.com", "Петрова", "Анна", "Сергеевна", "", "VIP", "new")
	anna.Group = "gold"
	anna.Cards = []kopilka.Card{{Number: "S-0001"}}
	petr := person(ten, "+79161230302", "petr@example.com", "Петров", "Пётр", "", "", "vip")
	vera := person(ten, "", "", "Петрова", "Вера", "", "")
	vera.Group = "gold"
	for _, c := range []*kopilka.Customer{anna, petr, vera} {
		mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCustomer(ctx, c) })
	}
	// The same name and tag in another tenant never show.
	o := newTenant(t, db)
	mustWrite(t, db, func(tx storage.Tx) error {
		return tx.CreateCustomer(ctx, person(o, "+79161230301", "anna@example.com", "Петрова", "Анна", "", "", "vip"))
	})
	for _, tt := range []struct {
		name string
		s    storage.CustomerSearch
		want []string
	}{
		{"All", storage.CustomerSearch{}, []string{vera.ID, petr.ID, anna.ID}},
		{"Phone", storage.CustomerSearch{Phone: "+79161230302"}, []string{petr.ID}},
		{"EmailAnyCase", storage.CustomerSearch{Email: "ANNA@example.COM"}, []string{anna.ID}},
		{"Card", storage.CustomerSearch{Card: "S-0001"}, []string{anna.ID}},
		{"LastName", storage.CustomerSearch{Name: "петрова"}, []string{vera.ID, anna.ID}},
		{"YoAsYe", storage.CustomerSearch{Name: "Петр"}, []string{petr.ID}},
		{"FullName", storage.CustomerSearch{Name: "Анна Петрова"}, []string{anna.ID}},
		{"MiddleName", storage.CustomerSearch{Name: "СЕРГЕЕВНА"}, []string{anna.ID}},
		{"NoPrefix", storage.CustomerSearch{Name: "Пет"}, []string{}},
		{"TagAnyCase", storage.CustomerSearch{Tag: "vip"}, []string{petr.ID, anna.ID}},
		{"Group", storage.CustomerSearch{Group: "gold"}, []string{vera.ID, anna.ID}},
		{"And", storage.CustomerSearch{Group: "gold", Tag: "VIP"}, []string{anna.ID}},
		{"NameAndPhone", storage.CustomerSearch{Name: "Петрова", Phone: "+79161230302"}, []string{}},
		{"Nobody", storage.CustomerSearch{Phone: "+79160000000"}, []string{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.s.Limit = 10
			mustRead(t, db, func(tx storage.Tx) error {
				got, err := tx.SearchCustomers(ctx, ten, tt.s)
				if err != nil {
					return err
				}
				diff(t, "SearchCustomers", tt.want, ids(got))
				for _, c := range got {
					if c.ID == anna.ID && (len(c.Cards) != 1 || c.Cards[0].Number != "S-0001" || c.FirstName != "Анна") {
						t.Errorf("SearchCustomers: anna = %+v, want her name and card", c)
					}
				}
				return nil
			})
		})
	}
	// A changed name and tags change what finds the customer.
	vera.LastName, vera.Tags = "Смирнова", []string{"Late"}
	mustWrite(t, db, func(tx storage.Tx) error { return tx.UpdateCustomer(ctx, vera) })
	mustRead(t, db, func(tx storage.Tx) error {
		for _, tt := range []struct {
			s    storage.CustomerSearch
			want []string
		}{
			{storage.CustomerSearch{Name: "Петрова", Limit: 10}, []string{anna.ID}},
			{storage.CustomerSearch{Name: "смирнова вера", Limit: 10}, []string{vera.ID}},
			{storage.CustomerSearch{Tag: "late", Limit: 10}, []string{vera.ID}},
		} {
			got, err := tx.SearchCustomers(ctx, ten, tt.s)
			if err != nil {
				return err
			}
			diff(t, fmt.Sprintf("SearchCustomers(%+v) after a change", tt.s), tt.want, ids(got))
		}
		return nil
	})
}

func testSearchPages(t *testing.T, db storage.DB) {
	ctx := t.Context()
	ten := newTenant(t, db)
	var want []string
	// Five in one transaction (one created_at: the id breaks the tie),
	// two more later.
	batch := make([]*kopilka.Customer, 5)
	for i := range batch {
		batch[i] = person(ten, "", "", "", "", "", "", "p")
	}
	mustWrite(t, db, func(tx storage.Tx) error {
		return tx.WriteImport(ctx, ten, &storage.ImportWrites{Customers: batch})
	})
	for range 2 {
		newCustomer(t, db, ten, "")
	}
	mustRead(t, db, func(tx storage.Tx) error {
		all, err := tx.SearchCustomers(ctx, ten, storage.CustomerSearch{Limit: 100})
		want = ids(all)
		return err
	})
	if len(want) != 7 {
		t.Fatalf("SearchCustomers = %d customers, want 7", len(want))
	}
	pages := func(s storage.CustomerSearch) []string {
		var got []string
		for page := 0; page < 10; page++ {
			var cs []kopilka.Customer
			mustRead(t, db, func(tx storage.Tx) error {
				var err error
				cs, err = tx.SearchCustomers(ctx, ten, s)
				return err
			})
			got = append(got, ids(cs)...)
			if len(cs) < s.Limit {
				break
			}
			last := cs[len(cs)-1]
			s.After = &storage.CustomerCursor{CreatedAt: last.CreatedAt, ID: last.ID}
		}
		return got
	}
	diff(t, "pages of 3", want, pages(storage.CustomerSearch{Limit: 3}))
	// By a tag: the five of the batch, in the same order.
	tagged := slices.DeleteFunc(slices.Clone(want), func(id string) bool {
		return !slices.ContainsFunc(batch, func(c *kopilka.Customer) bool { return c.ID == id })
	})
	diff(t, "pages of 2 by tag", tagged, pages(storage.CustomerSearch{Tag: "P", Limit: 2}))
}

func testConsents(t *testing.T, db storage.DB) {
	ctx := t.Context()
	ten := newTenant(t, db)
	c := newCustomer(t, db, ten, "")
	recs := []kopilka.Consent{
		{Kind: kopilka.ConsentPersonalData, Action: kopilka.ConsentGiven, Source: "pos", Actor: "till"},
		{Kind: kopilka.ConsentMarketing, Action: kopilka.ConsentGiven, Source: "web"},
		{Kind: kopilka.ConsentMarketing, Action: kopilka.ConsentWithdrawn, Source: "operator", Actor: "Olga"},
	}
	for i := range recs {
		recs[i].ID, recs[i].CustomerID = kopilka.NewID("cns"), c.ID
		mustWrite(t, db, func(tx storage.Tx) error { return tx.AddConsent(ctx, ten, &recs[i]) })
	}
	mustRead(t, db, func(tx storage.Tx) error {
		got, err := tx.ListConsents(ctx, ten, c.ID)
		if err != nil {
			return err
		}
		diff(t, "ListConsents", recs, got)
		other, err := tx.ListConsents(ctx, newTenantID(), c.ID)
		if err != nil || len(other) != 0 {
			t.Errorf("ListConsents in another tenant = %v, %v; want none", other, err)
		}
		return nil
	})
	err := db.Write(ctx, func(tx storage.Tx) error {
		return tx.AddConsent(ctx, ten, &kopilka.Consent{ID: kopilka.NewID("cns"), CustomerID: c.ID, Kind: "spam", Action: kopilka.ConsentGiven, Source: "x"})
	})
	if err == nil {
		t.Error("AddConsent(kind spam) = nil, want the database to refuse it")
	}
}

// testImportRefusedWhole: a chunk whose last row the database refuses
// (its card is taken) writes nothing, not even the rows before it that
// the same statements had already inserted (SQLite's bulk inserts stop at
// the bad row and rely on the transaction's rollback).
func testImportRefusedWhole(t *testing.T, db storage.DB) {
	ctx := t.Context()
	ten := newTenant(t, db)
	holder := newCustomer(t, db, ten, "", "REFUSED-1")
	batch := make([]*kopilka.Customer, 3)
	for i := range batch {
		batch[i] = person(ten, fmt.Sprintf("+7916555000%d", i), "", "Иванов", "", "", "", "p")
		batch[i].Cards = []kopilka.Card{{Number: fmt.Sprintf("REFUSED-%d", 2+i)}}
	}
	batch[2].Cards[0].Number = "REFUSED-1"
	err := db.Write(ctx, func(tx storage.Tx) error {
		return tx.WriteImport(ctx, ten, &storage.ImportWrites{Customers: batch})
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("WriteImport with a taken card: %v, want ErrConflict", err)
	}
	mustRead(t, db, func(tx storage.Tx) error {
		for _, c := range batch {
			if _, err := tx.GetCustomer(ctx, ten, c.ID, false); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("customer %s of the refused chunk: %v, want ErrNotFound", c.ID, err)
			}
		}
		for _, n := range []string{"REFUSED-2", "REFUSED-3"} {
			if k, err := tx.GetCard(ctx, ten, n); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("card %s of the refused chunk: %+v, %v; want ErrNotFound", n, k, err)
			}
		}
		k, err := tx.GetCard(ctx, ten, "REFUSED-1")
		if err != nil || k.CustomerID != holder.ID {
			t.Errorf("card REFUSED-1: %+v, %v; want it still %s's", k, err, holder.ID)
		}
		found, err := tx.SearchCustomers(ctx, ten, storage.CustomerSearch{Name: "Иванов", Limit: 10})
		if err != nil || len(found) != 0 {
			t.Errorf("search for the refused rows' name: %d customers, %v; want none", len(found), err)
		}
		return nil
	})
}

// testSearchTagTenant: a tag that customers of two tenants share finds
// each tenant's own, through every way terms are written (create, import,
// update), and a customer who loses the tag is found no more.
func testSearchTagTenant(t *testing.T, db storage.DB) {
	ctx := t.Context()
	a, b := newTenant(t, db), newTenant(t, db)
	ca, cb := person(a, "", "", "Петров", "", "", "", "vip"), person(b, "", "", "Петров", "", "", "", "VIP")
	mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCustomer(ctx, ca) })
	mustWrite(t, db, func(tx storage.Tx) error {
		return tx.WriteImport(ctx, b, &storage.ImportWrites{Customers: []*kopilka.Customer{cb}})
	})
	other := person(a, "", "", "Сидоров", "", "", "")
	mustWrite(t, db, func(tx storage.Tx) error { return tx.CreateCustomer(ctx, other) })
	other.Tags = []string{"Vip"}
	mustWrite(t, db, func(tx storage.Tx) error { return tx.UpdateCustomer(ctx, other) })
	search := func(ten string, s storage.CustomerSearch) []string {
		var got []string
		mustRead(t, db, func(tx storage.Tx) error {
			s.Limit = 10
			cs, err := tx.SearchCustomers(ctx, ten, s)
			got = ids(cs)
			return err
		})
		slices.Sort(got)
		return got
	}
	wantA := []string{ca.ID, other.ID}
	slices.Sort(wantA)
	diff(t, "tenant a, tag vip", wantA, search(a, storage.CustomerSearch{Tag: "vip"}))
	diff(t, "tenant b, tag vip", []string{cb.ID}, search(b, storage.CustomerSearch{Tag: "vip"}))
	diff(t, "tenant a, Петров with tag vip", []string{ca.ID}, search(a, storage.CustomerSearch{Tag: "vip", Name: "петров"}))
	other.Tags = []string{}
	mustWrite(t, db, func(tx storage.Tx) error { return tx.UpdateCustomer(ctx, other) })
	diff(t, "tenant a, tag vip after one lost it", []string{ca.ID}, search(a, storage.CustomerSearch{Tag: "vip"}))
}
