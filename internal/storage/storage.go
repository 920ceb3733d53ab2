// Package storage is the seam between the use cases and the databases: the
// DB and Tx interfaces, the records they keep, and the errors they return.
// There is one SQL implementation (storage/sqldb) for SQLite and
// PostgreSQL, and one conformance suite (storage/storagetest) both pass.
//
// It imports kopilka and ledger (pure packages) so that records are the
// vocabulary's own types; it never imports anything that does I/O.
package storage

import (
	"context"
	"errors"
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
	"github.com/kopilka/kopilka/internal/ledger"
)

// Errors every implementation returns, wrapped with context.
var (
	// ErrNotFound: no row with that id in that tenant.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique key is taken (phone, card, external id, key).
	ErrConflict = errors.New("conflict")
	// ErrInsufficient: a write would take a lot or a debt below zero; the
	// database constraint under the application's own check.
	ErrInsufficient = errors.New("insufficient points")
	// ErrRetry: a serialization failure or deadlock; the write is retried.
	ErrRetry = errors.New("retry")
	// ErrUnavailable: the database cannot serve now (no connection to be
	// had, shutting down); the client may retry the request shortly.
	ErrUnavailable = errors.New("database unavailable")
)

// DB is a database: reads and writes run inside transactions.
type DB interface {
	// Read runs fn's reads each on committed data, without a transaction
	// (no round trips for BEGIN and COMMIT); fn must only read.
	Read(ctx context.Context, fn func(Tx) error) error
	// Snapshot runs fn in a read-only transaction: every read sees one
	// consistent snapshot (verify, reports).
	Snapshot(ctx context.Context, fn func(Tx) error) error
	// Write runs fn in a read-write transaction that may be committed
	// together with other concurrent writes (group commit). Each fn is
	// atomic on its own: when it returns an error none of its writes stay.
	// A fn may run more than once when the database asks for a retry, so it
	// must not have effects outside the transaction. Once queued, Write
	// waits for the outcome even when ctx is cancelled, so a caller never
	// loses track of a committed write.
	Write(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	// Close releases the database.
	Close() error
}

// Tx is a transaction. Every method that touches tenant data takes the
// tenant id and scopes its query by it.
type Tx interface {
	// Now is the transaction's clock reading, fixed when it began.
	Now() time.Time

	CreateTenant(ctx context.Context, t *kopilka.Tenant) error
	GetTenant(ctx context.Context, id string) (*kopilka.Tenant, error)
	// LockTenant takes the tenant's row lock: writes that must see all of
	// a tenant's card ranges (creating one) serialise on it. ErrNotFound.
	LockTenant(ctx context.Context, id string) error
	// SetTenantSettings writes the tenant's settings; ErrNotFound.
	SetTenantSettings(ctx context.Context, id string, s kopilka.TenantSettings) error
	ListTenantIDs(ctx context.Context) ([]string, error)

	// CreateAPIKey stores a key (digest only). GetAPIKey finds a key by its
	// public id across tenants: it is how a request learns its tenant.
	CreateAPIKey(ctx context.Context, k *kopilka.APIKey) error
	GetAPIKey(ctx context.Context, id string) (*kopilka.APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID string) ([]kopilka.APIKey, error)
	RevokeAPIKey(ctx context.Context, tenantID, id string) error

	CreateStore(ctx context.Context, s *kopilka.Store) error
	GetStore(ctx context.Context, tenantID, id string) (*kopilka.Store, error)
	ListStores(ctx context.Context, tenantID string) ([]kopilka.Store, error)

	// Lookups by id and by phone resolve a customer merged into another
	// to the survivor (the returned customer's ID is the survivor's), and
	// find no customer deleted on request (ErrNotFound).

	// CreateCustomer returns ErrConflict for a phone or card already taken.
	CreateCustomer(ctx context.Context, c *kopilka.Customer) error
	// GetCustomer loads a customer with cards; lock also takes the row lock
	// that serialises every points movement of the customer.
	GetCustomer(ctx context.Context, tenantID, id string, lock bool) (*kopilka.Customer, error)
	// LockCustomer takes the customer's row lock and loads only what the
	// ledger needs (kind, debt, purchase sum): no cards.
	LockCustomer(ctx context.Context, tenantID, id string) (*kopilka.Customer, error)
	// CustomerByRef finds a customer by "id", "card" or "phone" (E.164) in
	// one query and loads what the ledger needs (kind, debt, purchase sum,
	// group, tags and the spendable sum at Now); lock takes the row lock.
	// By card only an active card identifies its holder, and the value may
	// be a scan (kopilka.CardLookups: the longest lookup that is a card
	// wins); ErrNotFound for a blocked or replaced card.
	CustomerByRef(ctx context.Context, tenantID, by, value string, lock bool) (*kopilka.Customer, error)
	// PurchaseCustomer is CustomerByRef with the lock, also returning the
	// id of the purchase that already holds externalID ("" when none).
	PurchaseCustomer(ctx context.Context, tenantID, by, value, externalID string) (*kopilka.Customer, string, error)
	// CustomerIDByPhone finds the customer with a phone (the survivor
	// for a merged customer's phone); ErrNotFound.
	CustomerIDByPhone(ctx context.Context, tenantID, phone string) (string, error)
	CustomerIDByCard(ctx context.Context, tenantID, number string) (string, error)
	// SearchCustomers pages a tenant's customers matching s, newest first
	// (created_at, then id, descending), with their cards.
	SearchCustomers(ctx context.Context, tenantID string, s CustomerSearch) ([]kopilka.Customer, error)
	// AddConsent appends a record to the customer's consent history.
	AddConsent(ctx context.Context, tenantID string, c *kopilka.Consent) error
	// ListConsents returns the customer's consent history, oldest first.
	ListConsents(ctx context.Context, tenantID, customerID string) ([]kopilka.Consent, error)
	// UpdateCustomer writes the profile fields; ErrConflict on a taken phone.
	UpdateCustomer(ctx context.Context, c *kopilka.Customer) error
	// SetCustomerBalances writes the debt and the purchase sum.
	SetCustomerBalances(ctx context.Context, tenantID, id string, debt, purchasesTotal kopilka.Amount) error
	AddCustomerChanges(ctx context.Context, tenantID string, ch []kopilka.CustomerChange) error
	ListCustomerChanges(ctx context.Context, tenantID, customerID string, before int64, limit int) ([]kopilka.CustomerChange, error)
	// CreateCard returns ErrConflict for a number already issued. It never
	// breaks the transaction: the caller may go on and try another number.
	CreateCard(ctx context.Context, tenantID string, c *kopilka.Card) error
	// GetCard loads a card by its exact number; ErrNotFound.
	GetCard(ctx context.Context, tenantID, number string) (*kopilka.Card, error)
	// FindCard loads the card of the first of numbers that is a card of
	// the tenant, whatever its status; ErrNotFound when none is.
	FindCard(ctx context.Context, tenantID string, numbers []string) (*kopilka.Card, error)
	// SetCardStatus moves a card from status from to status to, recording
	// the card that replaced it (or ""); ErrNotFound unless the card was in
	// status from.
	SetCardStatus(ctx context.Context, tenantID, number, from, to, replacedBy string) error
	// CardNumbers lists, in the database's order, the numbers of the
	// tenant's cards that are length characters long and lie between first
	// and last (inclusive) as strings, after the number after ("" for the
	// first page), at most limit.
	CardNumbers(ctx context.Context, tenantID, first, last string, length int, after string, limit int) ([]string, error)
	// CountCards counts the cards CardNumbers would list.
	CountCards(ctx context.Context, tenantID, first, last string, length int) (int64, error)

	// CreateCardRange stores a range.
	CreateCardRange(ctx context.Context, r *kopilka.CardRange) error
	// ListCardRanges lists the tenant's ranges, oldest first.
	ListCardRanges(ctx context.Context, tenantID string) ([]kopilka.CardRange, error)
	// GetCardRange loads a range; lock takes its row lock, which
	// serialises the writes that issue numbers from it. ErrNotFound.
	GetCardRange(ctx context.Context, tenantID, id string, lock bool) (*kopilka.CardRange, error)
	// SetCardRangeNext moves the range's issuing counter.
	SetCardRangeNext(ctx context.Context, tenantID, id string, next int64) error

	GetProgram(ctx context.Context, tenantID string) (*kopilka.Program, error)
	PutProgram(ctx context.Context, tenantID string, p *kopilka.Program) error

	// InsertOperation writes an operation and its postings (which must sum
	// to zero). ErrConflict when its external id is taken for its type.
	InsertOperation(ctx context.Context, op *kopilka.Operation, ps []ledger.Posting) error
	// Apply writes everything a use case gathered in w, in one round trip
	// on PostgreSQL. Errors as the single writes: ErrConflict for a taken
	// external id, ErrInsufficient for a lot outside 0..amount.
	Apply(ctx context.Context, tenantID string, w *Writes) error
	// InsertCredit writes an operation, its postings and the lot it credits,
	// in one round trip where the database allows.
	InsertCredit(ctx context.Context, op *kopilka.Operation, ps []ledger.Posting, lot *kopilka.Lot) error
	// FinishOperation moves a pending operation to complete or voided,
	// appends note to its message (for the history: "; 2.02 of them
	// repaid the debt"), and writes the postings of that phase.
	// ErrConflict unless it was pending.
	FinishOperation(ctx context.Context, tenantID, id string, to kopilka.OpStatus, note string, ps []ledger.Posting) error
	// AddPostings writes postings of a later phase of an operation (such as
	// activation), numbered from phase (PhaseActivate).
	AddPostings(ctx context.Context, tenantID, opID string, phase int, ps []ledger.Posting) error
	GetOperation(ctx context.Context, tenantID, id string) (*kopilka.Operation, error)
	OperationByExternalID(ctx context.Context, tenantID string, typ kopilka.OpType, externalID string) (*kopilka.Operation, error)
	// ListOperations pages a customer's history newest first, with the
	// operations of the customers merged into it; after is the cursor (an
	// operation id) of the previous page's last item.
	ListOperations(ctx context.Context, tenantID, customerID, after string, limit int) ([]kopilka.Operation, error)

	InsertLot(ctx context.Context, l *kopilka.Lot) error
	// CustomerLots returns the customer's lots in the given states.
	CustomerLots(ctx context.Context, tenantID, customerID string, states ...string) ([]kopilka.Lot, error)
	// AddLotRemaining changes a lot's remaining points by delta;
	// ErrInsufficient when that leaves it outside 0..amount.
	AddLotRemaining(ctx context.Context, tenantID, lotID string, delta kopilka.Amount) error
	SetLotState(ctx context.Context, tenantID, lotID, state string) error
	// UpdateLot writes a lot's state, remaining points and times.
	UpdateLot(ctx context.Context, l *kopilka.Lot) error
	// GetLot loads a lot.
	GetLot(ctx context.Context, tenantID, id string) (*kopilka.Lot, error)
	// SpendableSum is Σ remaining of the customer's active lots unexpired
	// at now (the available balance before debt), in one query.
	SpendableSum(ctx context.Context, tenantID, customerID string, now time.Time) (kopilka.Amount, error)
	// InsertHold reserves points of a lot for a pending operation.
	InsertHold(ctx context.Context, tenantID string, h *Hold) error
	OperationHolds(ctx context.Context, tenantID, operationID string) ([]Hold, error)
	SetHoldsState(ctx context.Context, tenantID, operationID, from, to string) error
	// Balance sums a customer's lots and holds at now; a merged customer's
	// id gives the survivor's balance.
	Balance(ctx context.Context, tenantID, customerID string, now time.Time) (*kopilka.Balance, error)

	// DueLots lists customers with lots to activate (inactive, activation
	// time reached) or to expire (active, remaining > 0, expiry reached).
	DueCustomers(ctx context.Context, now time.Time, limit int) ([]TenantCustomer, error)

	// CreatePurchase stores a purchase; ErrConflict when its external id is
	// taken in the tenant.
	CreatePurchase(ctx context.Context, p *kopilka.Purchase) error
	GetPurchase(ctx context.Context, tenantID, id string) (*kopilka.Purchase, error)
	PurchaseByExternalID(ctx context.Context, tenantID, externalID string) (*kopilka.Purchase, error)
	// UpdatePurchase writes status, lines and operation links.
	UpdatePurchase(ctx context.Context, p *kopilka.Purchase) error
	// CreateRefund stores a refund; ErrConflict when its external id is
	// taken in the tenant.
	CreateRefund(ctx context.Context, r *kopilka.Refund) error
	RefundByExternalID(ctx context.Context, tenantID, externalID string) (*kopilka.Refund, error)
	ListRefunds(ctx context.Context, tenantID, purchaseID string) ([]kopilka.Refund, error)

	// CreatePromotion stores a promotion or a personal offer.
	CreatePromotion(ctx context.Context, p *kopilka.Promotion) error
	GetPromotion(ctx context.Context, tenantID, kind, id string) (*kopilka.Promotion, error)
	// ListPromotions lists rules of a kind ("" for all) not ended before t.
	ListPromotions(ctx context.Context, tenantID, kind string, notEndedBefore time.Time) ([]kopilka.Promotion, error)
	DeletePromotion(ctx context.Context, tenantID, kind, id string) error
	// GrantBonus records a once-per-period bonus; ErrConflict when the
	// customer already has it for the period.
	GrantBonus(ctx context.Context, tenantID, customerID, kind, period, operationID string) error
	// BirthdayCustomers lists a tenant's customers born on one of
	// monthDays ("MM-DD"; one or two) without a grant of kind for period.
	BirthdayCustomers(ctx context.Context, tenantID string, monthDays []string, kind, period string, limit int) ([]TenantCustomer, error)

	// CustomerStatus reads, without resolving, whether a customer was
	// merged into another or deleted; ErrNotFound when there is no such
	// customer at all.
	CustomerStatus(ctx context.Context, tenantID, id string) (*CustomerStatus, error)
	// PendingPurchases lists the ids of a customer's pending purchases,
	// oldest first, at most limit.
	PendingPurchases(ctx context.Context, tenantID, customerID string, limit int) ([]string, error)
	// MergeCustomer moves from's cards, lots, holds, purchases and external
	// ids to into, points the customers merged into from at into, and
	// marks from merged into into with its debt and purchase sum zeroed
	// (the caller adds them to into's and writes the operation that moves
	// the points). ErrNotFound unless from is neither merged nor deleted.
	MergeCustomer(ctx context.Context, tenantID, from, into string) error
	// EraseCustomer erases a customer's personal data on request: the
	// profile (names, phones, e-mail, birth date, gender, consent, tags)
	// of the customer and of the customers merged into it, those fields'
	// old and new values in their change history, and their external ids;
	// it blocks the customer's active cards and marks it deleted. It is the
	// one write of personal data deletion makes. ErrNotFound when there is
	// no such customer.
	EraseCustomer(ctx context.Context, tenantID, id string) error

	// GetIdempotency returns the stored answer for a key, or ErrNotFound.
	GetIdempotency(ctx context.Context, tenantID, scope, key string) (*Idempotency, error)
	// PutIdempotency stores an answer; ErrConflict when the key is taken.
	PutIdempotency(ctx context.Context, r *Idempotency) error
	// PurgeIdempotency deletes answers stored before t.
	PurgeIdempotency(ctx context.Context, before time.Time) (int64, error)

	// VerifyFacts gathers what ledger.Verify needs for a tenant.
	VerifyFacts(ctx context.Context, tenantID string) (*ledger.TenantFacts, error)
	// SystemBalances sums the tenant's system accounts.
	SystemBalances(ctx context.Context, tenantID string) (map[ledger.Account]int64, error)

	// ImportLookup resolves the keys of an import chunk to customer ids in
	// one round trip: external ids of the integration, Kopilka ids, phones
	// and card numbers. Keys not found are absent from the maps, and so are
	// keys of deleted customers; keys of a merged customer map to the
	// survivor.
	ImportLookup(ctx context.Context, tenantID, integration string, keys ImportKeys) (*ImportMatches, error)
	// TransferCustomers loads customers by id with their cards, external
	// ids of the integration and points position at Now, in id order; lock
	// takes their row locks (in id order). Ids not found are left out.
	TransferCustomers(ctx context.Context, tenantID, integration string, ids []string, lock bool) ([]TransferCustomer, error)
	// ExportCustomers pages a tenant's customers (neither merged nor
	// deleted) in id order, starting
	// after the id after ("" for the first page), loaded as
	// TransferCustomers does.
	ExportCustomers(ctx context.Context, tenantID, integration, after string, limit int) ([]TransferCustomer, error)
	// WriteImport writes a chunk of an import: new customers, cards,
	// external ids, profile changes and import operations, with one
	// multi-row INSERT per table. ErrConflict when a phone, card or
	// external id was taken meanwhile; ErrInsufficient for a lot outside
	// 0..amount.
	WriteImport(ctx context.Context, tenantID string, w *ImportWrites) error
	// ExportOperations pages a tenant's operations created in [from, to)
	// in (created_at, id) order, starting after the cursor (zero for the
	// first page), with their customers' external ids of the integration.
	ExportOperations(ctx context.Context, tenantID, integration string, from, to time.Time, after OpCursor, limit int) ([]ExportedOperation, error)

	// CreateImportJob stores a new import job.
	CreateImportJob(ctx context.Context, j *ImportJob) error
	// UpdateImportJob writes a job's state, progress and errors (and
	// UpdatedAt, the heartbeat) unless the job has finished already;
	// ErrNotFound when there is no such job, ErrConflict when it finished.
	UpdateImportJob(ctx context.Context, j *ImportJob) error
	// GetImportJob loads a job; ErrNotFound when the tenant has none by id.
	GetImportJob(ctx context.Context, tenantID, id string) (*ImportJob, error)
}

// Posting numbers of an operation's phases: creation, finish (post or
// void), activation of its lot.
const (
	PhaseCreate   = 0
	PhaseFinish   = 100
	PhaseActivate = 200
)

type keyCtx struct{}

// WithKey returns a context whose writes are grouped by key (a customer
// reference): the database commits writes with one key through one
// committer, so they never wait on each other's locks across batches.
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtx{}, key)
}

// KeyFrom returns the key set by WithKey, or "".
func KeyFrom(ctx context.Context) string {
	k, _ := ctx.Value(keyCtx{}).(string)
	return k
}

type customerCtx struct {
	tenantID, customerID string
	lots                 bool
}

// PurchaseRef is a purchase's customer reference and external id, as
// Tx.PurchaseCustomer takes them.
type PurchaseRef struct {
	TenantID, By, Value, ExternalID string
}

type purchaseRefCtx struct{}

// WithPurchaseRef tells the database that the write will call
// Tx.PurchaseCustomer with ref: it may then look up, lock and read the
// customers of a whole batch of purchases at once. It keeps ctx's key.
func WithPurchaseRef(ctx context.Context, ref PurchaseRef) context.Context {
	return context.WithValue(ctx, purchaseRefCtx{}, ref)
}

// PurchaseRefFrom returns the reference set by WithPurchaseRef.
func PurchaseRefFrom(ctx context.Context) (PurchaseRef, bool) {
	r, ok := ctx.Value(purchaseRefCtx{}).(PurchaseRef)
	return r, ok
}

// WithCustomer is WithKey for a write that will lock the customer by id
// (Tx.LockCustomer): the database may then lock and read the customers of
// a whole batch of writes at once.
func WithCustomer(ctx context.Context, tenantID, customerID string) context.Context {
	return context.WithValue(WithKey(ctx, customerID), customerCtx{}, customerCtx{tenantID, customerID, false})
}

// WithCustomerLots is WithCustomer for a write that will also read the
// customer's active lots (Tx.CustomerLots with LotActive), to spend them.
func WithCustomerLots(ctx context.Context, tenantID, customerID string) context.Context {
	return context.WithValue(WithKey(ctx, customerID), customerCtx{}, customerCtx{tenantID, customerID, true})
}

// CustomerFrom returns the customer set by WithCustomer or
// WithCustomerLots (lots true), or "", "", false.
func CustomerFrom(ctx context.Context) (tenantID, customerID string, lots bool) {
	c, _ := ctx.Value(customerCtx{}).(customerCtx)
	return c.tenantID, c.customerID, c.lots
}

// CustomerStatus says what became of a customer: merged into another
// (MergedInto, the survivor's id) or deleted on request.
type CustomerStatus struct {
	MergedInto string
	Deleted    bool
}

// Hold is points of one lot reserved by a pending redemption.
type Hold struct {
	OperationID string
	LotID       string
	CustomerID  string
	Amount      kopilka.Amount
	State       string // "held", "posted", "voided"
}

// Hold states.
const (
	HoldHeld   = "held"
	HoldPosted = "posted"
	HoldVoided = "voided"
)

// TenantCustomer names a customer across tenants, for background jobs.
type TenantCustomer struct {
	TenantID   string
	CustomerID string
}

// Idempotency is a stored answer to a request made with an
// Idempotency-Key: the request's hash and the response to replay.
type Idempotency struct {
	TenantID    string
	Scope       string // the route, e.g. "POST /v1/customers/{id}/adjustments"
	Key         string
	RequestHash []byte
	Status      int
	Body        []byte
	CreatedAt   time.Time
}
