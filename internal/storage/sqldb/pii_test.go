package sqldb_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/pii"
	"github.com/kopilka/kopilka/internal/storage"
	"github.com/kopilka/kopilka/internal/storage/sqldb"
	"github.com/kopilka/kopilka/internal/storage/storagetest"
)

// placeholder is the dialect's n-th placeholder.
func placeholder(dialect string, n int) string {
	if dialect == "sqlite" {
		return "?"
	}
	return "$" + string(rune('0'+n))
}

// TestPIIKeys: rows written before sealing are sealed at the next start
// and found by phone; a key file with another index key is refused at
// start; one without the data key of a row gives ErrUnknownKey, not
// garbage; Reseal moves every row and history entry to a new current key.
func TestPIIKeys(t *testing.T) {
	t.Parallel()
	for _, dialect := range storagetest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			u := storagetest.URL(t, dialect)
			keys := storagetest.Keys()
			db, err := sqldb.Open(ctx, u, sqldb.Options{Keys: keys})
			if err != nil {
				t.Fatal(err)
			}
			tenantID, legacyID, newID := kopilka.NewID("ten"), kopilka.NewID("cus"), kopilka.NewID("cus")
			err = db.Write(ctx, func(tx storage.Tx) error {
				if err := tx.CreateTenant(ctx, &kopilka.Tenant{ID: tenantID, Name: "T"}); err != nil {
					return err
				}
				c := &kopilka.Customer{ID: newID, TenantID: tenantID, Kind: kopilka.Individual, Phone: "+79160000001", LastName: "Сидорова"}
				if err := tx.CreateCustomer(ctx, c); err != nil {
					return err
				}
				return tx.AddCustomerChanges(ctx, tenantID, []kopilka.CustomerChange{{CustomerID: newID, Field: "email", OldValue: "a@b.c", NewValue: "d@e.f", Actor: "t"}})
			})
			if err != nil {
				t.Fatal(err)
			}
			// A row as a database before migration 0009 held it: in clear,
			// no key, no blind index.
			p := func(n int) string { return placeholder(dialect, n) }
			_, err = sqldb.Writer(db).ExecContext(ctx, `INSERT INTO customers (tenant_id, id, kind, phone, email, first_name, birth_date,
 birth_md, created_at, updated_at) VALUES (`+p(1)+`, `+p(2)+`, 'individual', '+79160000002', 'old@example.com', 'Старая',
 '1970-02-03', '02-03', 1, 1)`, tenantID, legacyID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sqldb.Writer(db).ExecContext(ctx, `INSERT INTO import_jobs (tenant_id, id, status, format, size, errors,
 created_at, updated_at) VALUES (`+p(1)+`, 'imp_legacy', 'failed', 'csv', 1, '[{"line":2,"column":"phone","message":"\"+79160000003\" repeats line 1"}]', 1, 1)`, tenantID)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sqldb.Writer(db).ExecContext(ctx, `INSERT INTO customer_changes (tenant_id, customer_id, field, old_value, new_value,
 actor, changed_at) VALUES (`+p(1)+`, `+p(2)+`, 'phone', '', '+79160000002', 'old', 1)`, tenantID, legacyID)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()

			// Another index key: refused at start.
			other, _ := pii.Generate()
			if db, err := sqldb.Open(ctx, u, sqldb.Options{Keys: other}); err == nil {
				db.Close()
				t.Fatal("Open with another key file = nil error, want a refusal")
			} else if !strings.Contains(err.Error(), "key file") {
				t.Errorf("Open with another key file = %v, want it to name the key file", err)
			}

			db, err = sqldb.Open(ctx, u, sqldb.Options{Keys: keys})
			if err != nil {
				t.Fatal(err)
			}
			var raw string
			if err := sqldb.Writer(db).QueryRowContext(ctx, `SELECT phone || email || first_name || birth_date || birth_md FROM customers WHERE id = `+p(1), legacyID).Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(raw, "79160000002") || strings.Contains(raw, "old@") || strings.Contains(raw, "02-03") {
				t.Errorf("a row from before sealing still holds %q after a start", raw)
			}
			var rawErrs string
			if err := sqldb.Writer(db).QueryRowContext(ctx, `SELECT errors FROM import_jobs WHERE id = 'imp_legacy'`).Scan(&rawErrs); err != nil || strings.Contains(rawErrs, "79160000003") {
				t.Errorf("import errors from before sealing = %q, %v after a start; want them sealed", rawErrs, err)
			}
			err = db.Read(ctx, func(tx storage.Tx) error {
				id, err := tx.CustomerIDByPhone(ctx, tenantID, "+79160000002")
				if err != nil || id != legacyID {
					t.Errorf("CustomerIDByPhone(legacy) = %q, %v; want %s", id, err, legacyID)
				}
				c, err := tx.GetCustomer(ctx, tenantID, legacyID, false)
				if err != nil || c.Email != "old@example.com" || c.FirstName != "Старая" || c.BirthDate != "1970-02-03" {
					t.Errorf("GetCustomer(legacy) = %+v, %v; want its data opened", c, err)
				}
				bd, err := tx.BirthdayCustomers(ctx, tenantID, []string{"02-03"}, "birthday", "1999", 10)
				if err != nil || len(bd) != 1 || bd[0].CustomerID != legacyID {
					t.Errorf("BirthdayCustomers(02-03) = %v, %v; want the legacy customer", bd, err)
				}
				ch, err := tx.ListCustomerChanges(ctx, tenantID, legacyID, 0, 10)
				if err != nil || len(ch) != 1 || ch[0].NewValue != "+79160000002" {
					t.Errorf("ListCustomerChanges(legacy) = %+v, %v; want the phone change", ch, err)
				}
				j, err := tx.GetImportJob(ctx, tenantID, "imp_legacy")
				if err != nil || len(j.Errors) != 1 || !strings.Contains(j.Errors[0].Message, "+79160000003") {
					t.Errorf("GetImportJob(legacy) = %+v, %v; want its errors opened", j, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}

			// Rotation.
			rotated, err := keys.Rotated()
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			db, err = sqldb.Open(ctx, u, sqldb.Options{Keys: rotated})
			if err != nil {
				t.Fatal(err)
			}
			var calls int
			n, err := db.Reseal(ctx, 1, func(int64) { calls++ })
			if err != nil || n != 4 || calls != 4 {
				t.Errorf("Reseal(batch 1) = %d rows, %v, %d progress calls; want 4 rows (2 customers, 2 changes), 4 calls", n, err, calls)
			}
			var stale int
			if err := sqldb.Writer(db).QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM customers WHERE pii_key <> `+p(1)+`)
 + (SELECT COUNT(*) FROM customer_changes WHERE pii_key <> `+p(2)+`)`, rotated.Current(), rotated.Current()).Scan(&stale); err != nil || stale != 0 {
				t.Errorf("rows on another key after Reseal = %d, %v; want 0", stale, err)
			}
			if n, err := db.Reseal(ctx, 10, nil); n != 0 || err != nil {
				t.Errorf("a second Reseal = %d, %v; want nothing to do", n, err)
			}
			err = db.Read(ctx, func(tx storage.Tx) error {
				c, err := tx.GetCustomer(ctx, tenantID, newID, false)
				if err != nil || c.Phone != "+79160000001" || c.LastName != "Сидорова" {
					t.Errorf("GetCustomer after rotation = %+v, %v", c, err)
				}
				ch, err := tx.ListCustomerChanges(ctx, tenantID, newID, 0, 10)
				if err != nil || len(ch) != 1 || ch[0].OldValue != "a@b.c" {
					t.Errorf("ListCustomerChanges after rotation = %+v, %v", ch, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			db.Close()

			// The old ring (same index key, without the new data key): a
			// clear error, not garbage.
			db, err = sqldb.Open(ctx, u, sqldb.Options{Keys: keys})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.Read(ctx, func(tx storage.Tx) error {
				_, err := tx.GetCustomer(ctx, tenantID, newID, false)
				return err
			})
			if !errors.Is(err, pii.ErrUnknownKey) {
				t.Errorf("GetCustomer with a ring missing the row's key = %v, want ErrUnknownKey", err)
			}
		})
	}
}
