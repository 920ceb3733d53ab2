package kopilka

import "time"

// OpType is the kind of a ledger operation as shown in a history.
type OpType string

// Operation types.
const (
	OpAccrual    OpType = "accrual"
	OpRedemption OpType = "redemption"
	OpRefund     OpType = "refund"
	OpExpiry     OpType = "expiry"
	OpAdjustment OpType = "adjustment"
	OpBonus      OpType = "bonus"
	OpImport     OpType = "import"
	// OpMerge moves a merged customer's points to the survivor.
	OpMerge OpType = "merge"
	// OpDeletion forfeits the points of a customer deleted on request.
	OpDeletion OpType = "deletion"
)

// OpStatus is the two-phase state of an operation.
type OpStatus string

// Operation states: pending operations become complete (posted) or voided,
// and nothing changes after that.
const (
	StatusPending  OpStatus = "pending"
	StatusComplete OpStatus = "complete"
	StatusVoided   OpStatus = "voided"
)

// Operation is one entry in a customer's points history. Amount is signed:
// what the operation does to the customer's points (accruals positive,
// redemptions and expiry negative).
type Operation struct {
	ID          string
	TenantID    string
	CustomerID  string
	Type        OpType
	Status      OpStatus
	Amount      Amount
	PurchaseID  string
	ExternalID  string
	Message     string
	RequestHash []byte
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Lot states.
const (
	LotPending  = "pending"  // the operation that made it is pending
	LotInactive = "inactive" // posted, waiting for its activation time
	LotActive   = "active"   // spendable (until it expires)
	LotVoided   = "voided"   // its operation was voided
)

// Lot is one portion of accrued points with its activation and expiry.
type Lot struct {
	ID          string
	TenantID    string
	CustomerID  string
	OperationID string
	Amount      Amount
	Remaining   Amount
	State       string
	ActivatesAt time.Time
	ExpiresAt   *time.Time
	CreatedAt   time.Time
}

// Balance is a customer's points position.
type Balance struct {
	Available      Amount // spendable now; negative while a refund debt is open
	Pending        Amount // accrued but not yet confirmed or not yet active
	Reserved       Amount // held by pending redemptions
	Debt           Amount // owed after refunds revoked spent points
	Expiring       []Expiring
	PurchasesTotal Amount
	Tier           string
}

// Expiring is an amount of points that burns at a time.
type Expiring struct {
	Amount    Amount
	ExpiresAt time.Time
}

// Page is a cursor-paginated slice of results.
type Page[T any] struct {
	Items []T
	Next  string // cursor of the next page, or empty at the end
}
