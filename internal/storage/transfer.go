package storage

import (
	"time"

	"github.com/kopilka/kopilka/internal/kopilka"
)

// DefaultIntegration names the external ids that imports record when the
// caller names no integration of its own.
const DefaultIntegration = "default"

// ImportKeys are the keys one chunk of an import matches customers by.
type ImportKeys struct {
	ExternalIDs []string // external ids of the integration
	IDs         []string // Kopilka customer ids (cus_…) given as external ids
	Phones      []string // E.164
	Cards       []string // card numbers
}

// ImportMatches maps each key of an ImportKeys that was found to the id of
// the customer it belongs to; keys not found are absent. Keys of deleted
// customers are absent too, except their card numbers, which stay taken
// for good: those are in RetiredCards.
type ImportMatches struct {
	ExternalIDs  map[string]string
	IDs          map[string]string
	Phones       map[string]string
	Cards        map[string]string
	RetiredCards map[string]bool
}

// TransferCustomer is a customer as imports and exports see it: the
// profile with its cards (Customer.Cards) and its spendable sum at the
// transaction's Now (Customer.Spendable), its external ids of one
// integration, and the rest of its points position.
type TransferCustomer struct {
	kopilka.Customer
	ExternalIDs []string       // of the integration asked for, sorted
	Pending     kopilka.Amount // Σ remaining of pending and inactive lots
	Held        kopilka.Amount // Σ holds still held
}

// ExternalID links a customer to its id in another system.
type ExternalID struct {
	Integration string
	ExternalID  string
	CustomerID  string
}

// ImportWrites is what one chunk of an import writes, all at once: on
// PostgreSQL one multi-row INSERT per table.
type ImportWrites struct {
	Customers   []*kopilka.Customer // new customers, with their cards
	Cards       []kopilka.Card      // cards bound to existing customers (CustomerID set)
	ExternalIDs []ExternalID
	Updates     []*kopilka.Customer // existing customers whose profile changed
	Balances    []CustomerBalances  // existing customers' new debt and purchase sum
	Changes     []kopilka.CustomerChange
	Ops         []OpWrite      // import operations with their postings
	Lots        []*kopilka.Lot // the lots positive imports credit
	LotDeltas   []LotDelta     // points negative imports take from lots
}

// Empty reports whether there is nothing to write.
func (w *ImportWrites) Empty() bool {
	return len(w.Customers) == 0 && len(w.Cards) == 0 && len(w.ExternalIDs) == 0 && len(w.Updates) == 0 &&
		len(w.Balances) == 0 && len(w.Changes) == 0 && len(w.Ops) == 0 && len(w.Lots) == 0 && len(w.LotDeltas) == 0
}

// ExportedOperation is an operation with the external id of its customer.
type ExportedOperation struct {
	kopilka.Operation
	CustomerExternalID string // of the integration asked for; "" when none
}

// OpCursor is the position after which a page of exported operations
// starts: the creation time and id of the previous page's last one.
type OpCursor struct {
	CreatedAt time.Time
	ID        string
}

// Import job states.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	JobFailed  = "failed"
)

// RowError is a problem with one row (and, when known, one column) of an
// import file. Line is the line of the file (CSV) or the row of the sheet
// (XLSX) where the record starts; 0 for the file as a whole.
type RowError struct {
	Line    int    `json:"line"`
	Column  string `json:"column"`
	Message string `json:"message"`
}

// ImportJob is an import the server runs in the background.
type ImportJob struct {
	ID          string
	TenantID    string
	Status      string // JobQueued, JobRunning, JobDone, JobFailed
	Phase       string // "checking" or "importing" while running
	Format      string // csv or xlsx
	DryRun      bool
	SkipBadRows bool
	Size        int64 // bytes of the file
	Percent     int   // 0-100
	RowsTotal   int64 // -1 until known
	RowsDone    int64
	Created     int64
	Updated     int64
	Unchanged   int64
	BadRows     int64
	Errors      []RowError // the first of them
	Message     string     // why it failed, or a note
	CreatedAt   time.Time
	UpdatedAt   time.Time // also the heartbeat of a running job
	FinishedAt  *time.Time
}
