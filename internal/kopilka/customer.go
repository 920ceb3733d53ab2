package kopilka

import (
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// CustomerKind says whether the customer is a person or a company.
type CustomerKind string

// Customer kinds. Only individuals take part unless the tenant allows
// legal entities.
const (
	Individual  CustomerKind = "individual"
	LegalEntity CustomerKind = "legal_entity"
)

// Customer is a card holder.
type Customer struct {
	ID             string
	TenantID       string
	Kind           CustomerKind
	Phone          string // E.164 or empty
	ExtraPhone     string
	Email          string
	FirstName      string
	LastName       string
	MiddleName     string
	BirthDate      string // YYYY-MM-DD or empty
	Gender         string // "male", "female" or empty
	AdConsent      bool
	AdConsentAt    *time.Time
	AdConsentVia   string
	Group          string
	Tags           []string
	PurchasesTotal Amount // accumulated confirmed purchase sum, hundredths
	Debt           Amount // points owed after refunds revoked spent points
	// Spendable is Σ remaining of the active, unexpired lots (before debt),
	// filled by the ledger's customer lookups only.
	Spendable Amount
	Cards     []Card
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CustomerChange is one changed field in a customer's history.
type CustomerChange struct {
	ID         int64
	CustomerID string
	Field      string
	OldValue   string
	NewValue   string
	Actor      string
	ChangedAt  time.Time
}

// CustomerPatch lists the fields a PATCH may change; nil means unchanged.
type CustomerPatch struct {
	Phone      *string
	ExtraPhone *string
	Email      *string
	FirstName  *string
	LastName   *string
	MiddleName *string
	BirthDate  *string
	Gender     *string
	AdConsent  *bool
	Group      *string
	Tags       *[]string
}

// ValidateCustomer normalises and checks the fields of a new or patched
// customer in place. It returns an invalid_request *Error naming the field.
func ValidateCustomer(c *Customer) error {
	if c.Kind == "" {
		c.Kind = Individual
	}
	if c.Kind != Individual && c.Kind != LegalEntity {
		return Invalid("kind", "must be individual or legal_entity")
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"phone", &c.Phone}, {"extra_phone", &c.ExtraPhone}} {
		if *f.v == "" {
			continue
		}
		p, ok := NormalizePhone(*f.v)
		if !ok {
			return Invalid(f.name, "%q is not a phone number; use +7 912 345-67-89 or 8 912 345-67-89", *f.v)
		}
		*f.v = p
	}
	if c.Email != "" {
		c.Email = strings.TrimSpace(c.Email)
		a, err := mail.ParseAddress(c.Email)
		if err != nil || a.Address != c.Email || a.Name != "" {
			return Invalid("email", "%q is not an e-mail address", c.Email)
		}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"first_name", &c.FirstName}, {"last_name", &c.LastName}, {"middle_name", &c.MiddleName}, {"group", &c.Group}} {
		*f.v = strings.TrimSpace(*f.v)
		if utf8.RuneCountInString(*f.v) > 200 || !utf8.ValidString(*f.v) {
			return Invalid(f.name, "must be valid text of at most 200 characters")
		}
	}
	if c.BirthDate != "" {
		d, err := time.Parse(time.DateOnly, c.BirthDate)
		if err != nil || d.Year() < 1900 {
			return Invalid("birth_date", "%q is not a date; use YYYY-MM-DD", c.BirthDate)
		}
		if d.After(time.Now().AddDate(0, 0, 1)) {
			return Invalid("birth_date", "%q is in the future", c.BirthDate)
		}
	}
	switch c.Gender {
	case "", "male", "female":
	default:
		return Invalid("gender", "must be male or female")
	}
	if len(c.Tags) > 50 {
		return Invalid("tags", "at most 50 tags")
	}
	c.Tags = slices.Clone(c.Tags) // never trim the caller's slice in place
	for i, t := range c.Tags {
		t = strings.TrimSpace(t)
		if t == "" || utf8.RuneCountInString(t) > 64 || !utf8.ValidString(t) {
			return Invalid("tags", "tag %d must be 1 to 64 characters", i+1)
		}
		c.Tags[i] = t
	}
	return nil
}

// ValidateCustomerText checks the text c gives that old (nil for a new
// customer) did not have: it must be text an import file can carry back,
// so that an export imported again gives the same customer. Names and the
// group hold no control character (a tab aside); a tag holds none, and no
// comma or semicolon, which files separate tags with. Values stored
// before these rules stay editable: only new values are checked. Call it
// after ValidateCustomer (which trims them).
func ValidateCustomerText(old, c *Customer) error {
	if old == nil {
		old = &Customer{}
	}
	for _, f := range []struct {
		name     string
		old, now string
	}{{"first_name", old.FirstName, c.FirstName}, {"last_name", old.LastName, c.LastName},
		{"middle_name", old.MiddleName, c.MiddleName}, {"group", old.Group, c.Group}} {
		if f.now != f.old && HasControl(f.now) {
			return Invalid(f.name, "holds a control character (a line break, say)")
		}
	}
	for _, t := range c.Tags {
		if !slices.Contains(old.Tags, t) && (HasControl(t) || strings.ContainsAny(t, ",;")) {
			return Invalid("tags", "tag %q holds a comma, a semicolon or a control character", t)
		}
	}
	return nil
}

// HasControl reports a control character other than a tab: text that
// an import file (and so an export read back) could not carry.
func HasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\t' })
}

// Consent kinds (152-FZ: consent to processing personal data and consent
// to marketing messages are separate) and what a record does.
const (
	ConsentPersonalData = "personal_data"
	ConsentMarketing    = "marketing"
	ConsentGiven        = "given"
	ConsentWithdrawn    = "withdrawn"
)

// Consent is one record of a customer's consent history: a consent of a
// kind ("personal_data" or "marketing") given or withdrawn, when, through
// what (source: "pos", "web", "import", "api", "operator" …) and by whom.
type Consent struct {
	ID         string
	CustomerID string
	Kind       string
	Action     string // "given" or "withdrawn"
	Source     string
	Actor      string
	CreatedAt  time.Time
}
