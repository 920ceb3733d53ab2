package openapigen

import (
	"maps"

	"github.com/kopilka/kopilka/internal/kopilka"
)

func amount(desc string) Field { return Field{Desc: desc, Min: 0, Max: maxAmount} }

func text(desc string, max int) Field { return Field{Desc: desc, MaxLen: ptr(max)} }

const (
	datePattern = `^([0-9]{4}-[0-9]{2}-[0-9]{2})?$`
	cardPattern = `^[!-~]{0,64}$`
)

// customerFields describe the profile fields a client sends; patch says
// whether absent and null mean "unchanged".
func customerFields(patch bool) map[string]Field {
	tags := &Schema{Type: "array", MaxItems: ptr(50), Items: &Schema{Type: "string", MinLength: ptr(1), MaxLength: ptr(64)}}
	if patch {
		tags.Nullable = true
	}
	return map[string]Field{
		"phone":       {Desc: "Main phone in any common notation (+7 912 345-67-89, 8 912 345-67-89), stored in E.164. Unique within the tenant."},
		"extra_phone": {Desc: "A second phone, stored in E.164."},
		"email":       {Desc: "E-mail address."},
		"first_name":  text("First name.", 200),
		"last_name":   text("Last name.", 200),
		"middle_name": text("Middle name (patronymic).", 200),
		"birth_date":  {Desc: "Date of birth, YYYY-MM-DD (1900 or later); the birthday bonus is paid once per calendar year.", Pattern: datePattern},
		"gender":      {Desc: "male or female; empty for unknown.", Enum: []any{"male", "female", ""}},
		"ad_consent":  {Desc: "Whether the customer agrees to advertising messages; the time it changes is recorded."},
		"group":       text("A group label.", 200),
		"tags":        {Desc: "Free labels: at most 50, each 1 to 64 characters.", Schema: tags},
	}
}

// calculationFields describe the computed receipt, shared by Calculation
// and Purchase.
func calculationFields() map[string]Field {
	return map[string]Field{
		"customer":           {Desc: "The customer and the tier the receipt was computed with."},
		"available":          {Desc: "The customer's available points when the receipt was computed, hundredths (negative while a refund debt is open)."},
		"total":              {Desc: "Sum of all lines' amount, hundredths."},
		"eligible":           {Desc: "Sum of the eligible (not excluded) lines' amount, hundredths."},
		"max_redeem":         {Desc: "The largest redemption allowed: min(available, floor(eligible × max_redeem_percent / 100), Σ room of eligible lines), hundredths."},
		"max_redeem_percent": {Desc: "The tier's max_redeem_percent."},
		"redeem":             {Desc: "Points redeemed on this receipt, hundredths."},
		"to_pay":             {Desc: "total − redeem: money the customer pays, hundredths."},
		"accrue":             {Desc: "Points the receipt earns, hundredths."},
		"lines":              {Desc: "The lines in request order."},
	}
}

func structSpecs() []structSpec {
	patch := customerFields(true)
	for k, f := range patch {
		f.Desc += " Absent or null: unchanged; empty: cleared."
		patch[k] = f
	}
	purchase := map[string]Field{
		"id":          {Desc: "Purchase id (pur_…)."},
		"external_id": {Desc: "The receipt or order number the client gave."},
		"status":      {Desc: "pending (redemption reserved, accrual pending), complete, or cancelled.", Enum: []any{"pending", "complete", "cancelled"}},
		"store_id":    {Desc: "The store of the sale, or null."},
		"created_at":  {Desc: "When it was registered."},
	}
	maps.Copy(purchase, calculationFields())
	request := map[string]Field{
		"store_id": {Desc: "The store of the sale. A key bound to a store must name its own store, or leave it out: the receipt is then that store's."},
		"customer": {Desc: "Who buys."},
		"lines":    {Desc: "The receipt lines, 1 to 1000.", MinItems: ptr(1), MaxItems: ptr(1000)},
		"redeem": {Desc: "Points to redeem, hundredths, or \"max\" for max_redeem; absent or 0: none.", Schema: &Schema{OneOf: []*Schema{
			{Type: "integer", Format: "int64", Minimum: 0, Maximum: maxAmount},
			{Type: "string", Enum: []any{"max"}},
		}}},
		"external_id":       {Desc: "The receipt or order number: unique within the tenant.", MinLen: ptr(1), MaxLen: ptr(128)},
		"confirm":           {Desc: "Complete the purchase at once (as POST …/confirm would).", Default: false},
		"verification_code": {Desc: "The code the customer received, when the programme's verification asks for one."},
	}
	customer := map[string]Field{
		"id":                 {Desc: "Customer id (cus_…)."},
		"kind":               {Desc: "individual or legal_entity.", Enum: []any{"individual", "legal_entity"}},
		"phone":              {Desc: "Main phone in E.164 (+79123456789), or null. In GET /v1/customers/search answers to a key without the admin scope it is masked, as in phone_masked."},
		"phone_masked":       {Desc: phoneMaskedDesc},
		"extra_phone":        {Desc: "A second phone in E.164, or null. Masked like phone in GET /v1/customers/search answers to a key without the admin scope."},
		"extra_phone_masked": {Desc: "extra_phone masked as phone_masked is; null when extra_phone is."},
		"email":              {Desc: "E-mail address, or null."},
		"first_name":         {Desc: "First name; empty when unknown."},
		"last_name":          {Desc: "Last name; empty when unknown."},
		"middle_name":        {Desc: "Middle name (patronymic); empty when unknown."},
		"birth_date":         {Desc: "Date of birth, or null.", Format: "date"},
		"gender":             {Desc: "male, female, or null.", Enum: []any{"male", "female"}},
		"ad_consent":         {Desc: "Whether the customer agrees to advertising messages."},
		"ad_consent_at":      {Desc: "When ad_consent last changed, or null."},
		"group":              {Desc: "A group label, or null."},
		"tags":               {Desc: "Free labels."},
		"cards":              {Desc: "The customer's cards."},
		"purchases_total":    {Desc: "Accumulated sum of confirmed purchases less refunds, hundredths; it selects the tier."},
		"created_at":         {Desc: "When the customer was enrolled."},
		"updated_at":         {Desc: "When the profile last changed."},
	}
	cardDetail := map[string]Field{
		"number":      {Desc: "The card number."},
		"kind":        {Desc: "plastic or electronic.", Enum: []any{"plastic", "electronic"}},
		"status":      {Desc: "active (identifies its holder), blocked (identifies nobody until unblocked) or replaced (retired for good).", Enum: []any{"active", "blocked", "replaced"}},
		"customer_id": {Desc: "The holder (cus_…)."},
		"range_id":    {Desc: "The range whose counter issued the number, or null for a number bound by hand."},
		"replaced_by": {Desc: "The card that replaced this one, or null."},
		"created_at":  {Desc: "When it was issued."},
	}
	cardView := maps.Clone(cardDetail)
	maps.Copy(cardView, map[string]Field{
		"holder_deleted":     {Desc: "The holder was deleted on request: the name is empty and the figures zero."},
		"holder_first_name":  {Desc: "The holder's first name; empty when unknown."},
		"holder_last_name":   {Desc: "The holder's last name; empty when unknown."},
		"holder_middle_name": {Desc: "The holder's middle name; empty when unknown."},
		"tier":               {Desc: "The holder's tier, as in Balance."},
		"available":          {Desc: "The holder's spendable points, hundredths, as in Balance."},
		"pending":            {Desc: "The holder's points not yet active, hundredths, as in Balance."},
		"expiring":           {Desc: "The holder's points that will expire, soonest first."},
		"purchases_total":    {Desc: "The holder's accumulated purchase sum, hundredths."},
	})
	identified := maps.Clone(customer)
	maps.Copy(identified, map[string]Field{
		"tier":      {Desc: "The tier reached, as in balance."},
		"available": {Desc: "Points spendable now, hundredths, as in balance: negative while a refund debt is open."},
		"pending":   {Desc: "Points accrued and not yet active, hundredths, as in balance."},
		"balance":   {Desc: "The balance, as GET /v1/customers/{id}/balance answers it."},
	})
	specs := []structSpec{
		{Name: "Customer", Desc: "A card holder.", Fields: customer},
		{Name: "IdentifiedCustomer", Desc: "A card holder as identification answers: the profile with the points and the tier a till needs next.",
			Fields: identified},
		{Name: "Card", Desc: "A loyalty card.", Fields: map[string]Field{
			"number": {Desc: "The card number."},
			"kind":   {Desc: "plastic or electronic.", Enum: []any{"plastic", "electronic"}},
			"status": {Desc: "active, blocked or replaced.", Enum: []any{"active", "blocked", "replaced"}},
		}},
		{Name: "CardDetail", Desc: "A loyalty card with its holder.", Fields: cardDetail},
		{Name: "CardView", Desc: "A loyalty card with its holder and the holder's points (a card view).", Fields: cardView},
		{Name: "CardInput", Mode: input, Desc: "A card to issue. Every field is optional.", Fields: map[string]Field{
			"kind":     {Desc: "plastic (the default) or electronic.", Enum: []any{"plastic", "electronic"}, Default: "plastic"},
			"number":   {Desc: "Bind this number: 1 to 64 printable ASCII characters, no spaces; unique within the tenant. Absent or empty: the next free number of a range.", Pattern: cardPattern},
			"range_id": {Desc: "Take the number from this range (rng_…); absent: the newest range for the kind with numbers left, else the newest for both kinds. Not with number."},
		}},
		{Name: "ReplaceInput", Mode: input, Desc: "Where the new card's number comes from. Every field is optional.", Fields: map[string]Field{
			"number":   {Desc: "The new card's number (a new plastic card's); unique within the tenant.", Pattern: cardPattern},
			"range_id": {Desc: "Take the number from this range; absent: the old card's range, else the newest for the kind, else the newest for both kinds. Not with number."},
		}},
		{Name: "CardRange", Desc: "A series of card numbers.", Fields: map[string]Field{
			"id":           {Desc: "Range id (rng_…)."},
			"name":         {Desc: "A name for people; may be empty."},
			"prefix":       {Desc: "What every number starts with; may be empty."},
			"start":        {Desc: "The first sequence number."},
			"end":          {Desc: "The last sequence number."},
			"width":        {Desc: "Digits of the zero-padded sequence number."},
			"check_digit":  {Desc: "none, luhn or ean13: the check digit that ends every number.", Enum: []any{"none", "luhn", "ean13"}},
			"kind":         {Desc: "plastic or electronic: the cards the range is for; null for both.", Enum: []any{"plastic", "electronic"}},
			"first_number": {Desc: "The number of start."},
			"last_number":  {Desc: "The number of end."},
			"next_number":  {Desc: "The number the counter tries next (skipping numbers bound by hand), or null when the range is used up."},
			"issued":       {Desc: "Cards whose numbers belong to the range, however they were bound."},
			"left":         {Desc: "Numbers the counter can still issue."},
			"created_at":   {Desc: "When it was made; without range_id a card comes from the newest range for its kind, else the newest for both kinds."},
		}},
		{Name: "CardRangeInput", Mode: input, Desc: "A range to make.", Required: []string{"width"}, Fields: map[string]Field{
			"name":        text("A name for people.", 200),
			"prefix":      {Desc: "What every number starts with: up to 20 digits, capital Latin letters and '-' (digits only with a check digit). Default empty.", Pattern: "^[0-9A-Z-]{0,20}$"},
			"start":       {Desc: "The first sequence number; default 1.", Min: 0},
			"end":         {Desc: "The last sequence number, not below start; default the largest width digits hold.", Min: 0},
			"width":       {Desc: "Digits of the zero-padded sequence number (the mask: width 4 makes 0001, 0002 …).", Min: 1, Max: kopilka.MaxRangeWidth},
			"check_digit": {Desc: "none (the default), luhn, or ean13 (prefix + width must then be 12 digits).", Enum: []any{"none", "luhn", "ean13"}, Default: "none"},
			"kind":        {Desc: "plastic or electronic: the cards the range is for; absent or empty for both.", Enum: []any{"plastic", "electronic", ""}},
		}},
		{Name: "Settings", Desc: "The tenant settings.", Fields: settingsFields()},
		{Name: "SettingsInput", Mode: input, Desc: "The tenant settings; omitted fields take their defaults.", Fields: settingsFields()},
		{Name: "CustomerInput", Mode: input, Desc: "A new customer. Every field is optional.", Fields: func() map[string]Field {
			f := customerFields(false)
			f["kind"] = Field{Desc: "individual (the default) or legal_entity; legal entities take part only when the tenant allows them.", Enum: []any{"individual", "legal_entity"}, Default: "individual"}
			f["card"] = Field{Desc: "A card number to bind: 1 to 64 printable ASCII characters, no spaces. Unique within the tenant.", Pattern: cardPattern}
			return f
		}()},
		{Name: "CustomerPatch", Mode: input, Desc: "Profile fields to change.", Fields: patch},
		{Name: "CustomerChange", Desc: "One changed profile field.", Fields: map[string]Field{
			"id":         {Desc: "Change number."},
			"field":      {Desc: "The JSON name of the field."},
			"old_value":  {Desc: "The value before, as text."},
			"new_value":  {Desc: "The value after, as text."},
			"actor":      {Desc: "Who changed it: the API key id, or cli or system."},
			"changed_at": {Desc: "When."},
		}},
		{Name: "Balance", Desc: "A customer's points position, hundredths.", Fields: map[string]Field{
			"available":       {Desc: "Spendable now; negative while a refund debt is open."},
			"pending":         {Desc: "Accrued but not yet confirmed, or confirmed and waiting for the activation delay."},
			"reserved":        {Desc: "Held by pending purchases' redemptions."},
			"expiring":        {Desc: "Points that will expire, soonest first."},
			"purchases_total": {Desc: "Accumulated sum of confirmed purchases less refunds."},
			"tier":            {Desc: "The tier reached: the one with the highest threshold not above purchases_total."},
		}},
		{Name: "Expiring", Desc: "Points that burn at one time.", Fields: map[string]Field{
			"amount":     {Desc: "Points, hundredths."},
			"expires_at": {Desc: "When they burn."},
		}},
		{Name: "Operation", Desc: "One entry of a customer's points history.", Fields: map[string]Field{
			"id":          {Desc: "Operation id (op_…)."},
			"customer_id": {Desc: "The customer."},
			"type":        {Desc: "What happened.", Enum: []any{"accrual", "redemption", "refund", "expiry", "adjustment", "bonus", "import", "merge", "deletion"}},
			"status":      {Desc: "pending until its purchase is confirmed or cancelled; then complete or voided, for good.", Enum: []any{"pending", "complete", "voided"}},
			"amount":      {Desc: "What it does to the customer's points, hundredths: positive for accruals, bonuses and returned points, negative for redemptions, expiry and revoked points."},
			"purchase_id": {Desc: "The purchase it belongs to, or null."},
			"external_id": {Desc: "The adjustment's external_id, or null."},
			"message":     {Desc: "What happened, for people (an adjustment's reason; a refund that made a debt says so; a merge names the customer merged in; a deletion says the points were forfeited)."},
			"created_at":  {Desc: "When."},
		}},
		{Name: "AdjustmentInput", Mode: input, Desc: "A manual correction.", Required: []string{"amount"}, Fields: map[string]Field{
			"amount": {Desc: "Points, hundredths: positive credits, negative debits; not zero.", Schema: &Schema{Type: "integer", Format: "int64",
				Minimum: -maxAmount, Maximum: maxAmount, Not: &Schema{Enum: []any{0}}}},
			"reason":      text("Why; shown in the history.", 500),
			"external_id": text("Your id for it: the adjustment happens once per external_id.", 128),
		}},
		{Name: "MergeInput", Mode: input, Desc: "The customer to merge into the one in the path.", Required: []string{"from"}, Fields: map[string]Field{
			"from": text("The id of the customer to merge: its cards, points, debt, purchase sum and history move to the survivor.", 128),
		}},
		{Name: "APIKey", Desc: "An API key (without its secret).", Fields: keyFields()},
		{Name: "NewAPIKey", Desc: "An API key just made, with the plain key in key. An idempotent replay of the creation answers the same record without key: the secret is shown once and stored nowhere.", Fields: keyFields()},
		{Name: "APIKeyInput", Mode: input, Desc: "A key to make.", Required: []string{"scopes"}, Fields: map[string]Field{
			"name":     text("A name for people.", 200),
			"scopes":   {Desc: "admin (everything) and/or pos (the till's work).", ItemEnum: []any{"admin", "pos"}, MinItems: ptr(1)},
			"store_id": {Desc: "Bind the key to this store: it then acts for that store only."},
		}},
		{Name: "Store", Desc: "A point of sale.", Fields: map[string]Field{
			"id":         {Desc: "Store id (sto_…)."},
			"name":       {Desc: "Name."},
			"address":    {Desc: "Address; may be empty."},
			"phone":      {Desc: "Phone in E.164; empty when none."},
			"hours":      {Desc: "Opening hours as given: a text or an object; null when not given."},
			"created_at": {Desc: "When it was added."},
		}},
		{Name: "StoreInput", Mode: input, Desc: "A new store.", Required: []string{"name"}, Fields: map[string]Field{
			"name":    {Desc: "Name, 1 to 200 characters.", MinLen: ptr(1), MaxLen: ptr(200)},
			"address": text("Address.", 500),
			"phone":   {Desc: "Phone in any common notation, stored in E.164."},
			"hours":   {Desc: "Opening hours: a text such as \"Пн–Пт 9:00–21:00\" or an object of your own shape; at most 4 KiB."},
		}},
		{Name: "Program", Desc: "The points programme.", Fields: programFields(output)},
		{Name: "Tier", Desc: "A programme level, reached by the accumulated purchase sum.", Fields: tierFields()},
		{Name: "Verification", Desc: "When a redemption needs a code from the customer.", Fields: verificationFields()},
		{Name: "ProgramInput", Mode: input, Desc: "The points programme; omitted fields take their defaults.", Required: []string{"tiers"}, Fields: programFields(input)},
		{Name: "TierInput", Mode: input, Desc: "A programme level.", Required: []string{"name"}, Fields: tierFields()},
		{Name: "VerificationInput", Mode: input, Desc: "When a redemption needs a code from the customer.", Fields: verificationFields()},
		{Name: "CustomerRef", Mode: input, Desc: "The customer: exactly one of id, card or phone.", MinProps: ptr(1), MaxProps: ptr(1), Fields: map[string]Field{
			"id":    {Desc: "Customer id."},
			"card":  {Desc: "Card number."},
			"phone": {Desc: "Phone, any common notation."},
		}},
		{Name: "LineInput", Mode: input, Desc: "A receipt line.", Required: []string{"quantity", "price"}, Fields: map[string]Field{
			"sku":      text("Article; matched against the programme's excluded_skus.", 200),
			"name":     text("Name.", 500),
			"category": text("Category; matched against the programme's excluded_categories.", 200),
			"quantity": {Desc: "Quantity, above zero, up to 3 decimals (0.5 kg).", ExclMin: true, Max: 1000000000},
			"price":    amount("Price per unit, hundredths."),
			"discount": amount("External discount on the whole line, hundredths."),
		}},
		{Name: "CalculationRequest", Mode: input, Desc: "A receipt to price. The fields only a purchase uses (external_id, confirm, verification_code) are taken and ignored, so that a till may send one body to both.",
			Required: []string{"customer", "lines"}, Fields: request},
		{Name: "PurchaseRequest", Mode: input, Desc: "A receipt to register.", Required: []string{"customer", "lines", "external_id"}, Fields: request},
		{Name: "Calculation", Desc: "A computed receipt.", Fields: calculationFields()},
		{Name: "CalculationCustomer", Desc: "The customer a receipt was computed for.", Fields: map[string]Field{
			"id":   {Desc: "Customer id."},
			"tier": {Desc: "The tier whose percentages apply."},
		}},
		{Name: "CalculationLine", Desc: "A computed receipt line; figures in hundredths.", Fields: map[string]Field{
			"line":       {Desc: "Line number, from 1, in request order.", Min: 1},
			"sku":        {Desc: "Article, as sent."},
			"quantity":   {Desc: "Quantity, as sent."},
			"excluded":   {Desc: "The programme excludes this line: it neither earns nor takes points."},
			"amount":     {Desc: "round_half_up(price × quantity) − discount."},
			"redeem":     {Desc: "Points redeemed on this line."},
			"to_pay":     {Desc: "amount − redeem."},
			"accrue":     {Desc: "Points this line earns."},
			"refunded":   {Desc: "Quantity refunded so far (0 in a calculation)."},
			"bonus":      {Desc: "The part of accrue that promotions and offers added."},
			"promotions": {Desc: "Ids of the promotions and offers that added to this line; empty when none."},
		}},
		{Name: "Purchase", Desc: "A registered receipt.", Fields: purchase},
		{Name: "RefundInput", Mode: input, Desc: "A return of goods.", Required: []string{"external_id"}, Fields: map[string]Field{
			"external_id": {Desc: "The return document's number: unique within the tenant.", MinLen: ptr(1), MaxLen: ptr(128)},
			"lines":       {Desc: "What comes back; without lines, everything not yet refunded.", MaxItems: ptr(1000)},
		}},
		{Name: "RefundLineInput", Mode: input, Desc: "A returned quantity of one purchase line.", Required: []string{"line", "quantity"}, Fields: map[string]Field{
			"line":     {Desc: "The purchase's line number, from 1.", Min: 1},
			"quantity": {Desc: "Quantity returned, above zero, up to 3 decimals; all refunds of a line together at most its quantity.", ExclMin: true},
		}},
		{Name: "Refund", Desc: "A refund; figures in hundredths.", Fields: map[string]Field{
			"id":              {Desc: "Refund id (ref_…)."},
			"purchase_id":     {Desc: "The purchase."},
			"external_id":     {Desc: "The return document's number."},
			"lines":           {Desc: "The quantities this refund returned, per line."},
			"points_returned": {Desc: "Redeemed points given back: available at once."},
			"points_revoked":  {Desc: "Accrued points taken back."},
			"debt":            {Desc: "Of points_revoked, what the balance could not cover: owed, repaid by the next accruals first."},
			"amount":          {Desc: "Money to give back: the refunded share of to_pay."},
			"total":           {Desc: "The refunded share of the lines' amount; purchases_total shrinks by it."},
			"created_at":      {Desc: "When."},
		}},
		{Name: "RefundLine", Desc: "A refunded quantity of one purchase line.", Fields: map[string]Field{
			"line":     {Desc: "The purchase's line number, from 1.", Min: 1},
			"quantity": {Desc: "Quantity refunded."},
		}},
		{Name: "Promotion", Desc: "A promotion (goods, stores; every customer) or a personal offer (customer tags, groups) that adds to the accrual between its dates.", Fields: promotionFields(output)},
		{Name: "PromotionInput", Mode: input, Desc: "A promotion or personal offer to add.", Required: []string{"name", "starts_at"}, Fields: promotionFields(input)},
		{Name: "Problem", Desc: "An RFC 9457 problem document.", Fields: map[string]Field{
			"type":     {Desc: "A URI naming the problem type: https://kopilka.dev/problems/<code>."},
			"title":    {Desc: "A short summary of the problem type."},
			"status":   {Desc: "The HTTP status."},
			"detail":   {Desc: "What went wrong this time, in English, for people; absent for internal errors."},
			"code":     {Desc: "The stable code to act on."},
			"field":    {Desc: "The field at fault: a JSON path such as lines[2].quantity, a query parameter or a header name."},
			"instance": {Desc: "The request path."},
		}},
	}
	return append(append(specs, transferSpecs()...), peopleSpecs()...)
}

func promotionFields(m mode) map[string]Field {
	f := map[string]Field{
		"id":            {Desc: "Id: prm_… for a promotion, ofr_… for an offer."},
		"kind":          {Desc: "promotion or offer, by the path it was made under.", Enum: []any{"promotion", "offer"}},
		"name":          {Desc: "Name, 1 to 200 characters."},
		"starts_at":     {Desc: "When it starts to apply."},
		"ends_at":       {Desc: "When it stops applying (after starts_at), or null for never."},
		"skus":          {Desc: "Articles it covers; with categories empty too, every line."},
		"categories":    {Desc: "Categories it covers."},
		"store_ids":     {Desc: "Stores it applies in; empty: every store."},
		"tags":          {Desc: "Offers only: customers with one of these tags get it."},
		"groups":        {Desc: "Offers only: customers in one of these groups get it."},
		"multiplier":    {Desc: "Multiplies the tier accrual of the lines covered (2 doubles it); 0 or 1: none. Rules do not compound: the highest multiplier of the promotions covering a line applies."},
		"extra_percent": {Desc: "Percent of the line's accrual base added on top; the extra percents of every promotion and offer covering a line add up."},
		"created_at":    {Desc: "When it was added."},
	}
	if m == input {
		for _, k := range []string{"id", "kind", "created_at"} {
			delete(f, k)
		}
		f["name"] = Field{Desc: f["name"].Desc, MinLen: ptr(1), MaxLen: ptr(200)}
		for _, k := range []string{"skus", "categories", "store_ids", "tags", "groups"} {
			v := f[k]
			v.MaxItems = ptr(10000)
			f[k] = v
		}
	}
	return f
}

func settingsFields() map[string]Field {
	return map[string]Field{
		"allow_legal_entities":           {Desc: "Legal entities may take part (kind legal_entity); default false.", Default: false},
		"electronic_deactivates_plastic": {Desc: "Issuing an electronic card replaces the customer's active plastic cards (MoySklad knows one card per customer); default false.", Default: false},
		"electronic_card_group":          {Desc: "The group a customer joins when an electronic card is issued to them; empty for none.", MaxLen: ptr(200)},
	}
}

func keyFields() map[string]Field {
	return map[string]Field{
		"id":         {Desc: "Key id (key_…); part of the plain key."},
		"key":        {Desc: "The plain key, only in the answer that creates it: send it as Authorization: Bearer <key>."},
		"name":       {Desc: "A name for people."},
		"scopes":     {Desc: "What the key may do.", ItemEnum: []any{"admin", "pos"}},
		"store_id":   {Desc: "The store the key is bound to, or null."},
		"created_at": {Desc: "When it was made."},
		"revoked_at": {Desc: "When it was revoked, or null."},
	}
}

func programFields(m mode) map[string]Field {
	f := map[string]Field{
		"currency":                      {Desc: "ISO 4217 code of the money.", Pattern: "^[A-Z]{3}$"},
		"tiers":                         {Desc: "The levels, the first at threshold 0, thresholds rising strictly; 1 to 50."},
		"accrue_on":                     {Desc: "paid: accrual on the money part only (to_pay); total: on the amount before points.", Enum: []any{"paid", "total"}},
		"round_accrual_to_whole_points": {Desc: "Accrue whole points only (multiples of 100 hundredths)."},
		"min_line_price":                {Desc: "Per unit, hundredths: points never take a line below ceil(min_line_price × quantity).", Min: 0},
		"excluded_skus":                 {Desc: "Articles that neither earn nor take points."},
		"excluded_categories":           {Desc: "Categories that neither earn nor take points."},
		"activation_delay_days":         {Desc: "Days after confirmation before accrued points can be spent.", Min: 0, Max: 3650},
		"expiry_days":                   {Desc: "Days points live once credited; 0: they never expire.", Min: 0, Max: 36500},
		"welcome_bonus":                 amount("Points paid once at enrolment, hundredths."),
		"birthday_bonus":                amount("Points paid once per calendar year on the birthday, hundredths."),
		"birthday_days_before":          {Desc: "Pay the birthday bonus this many days before the birthday.", Min: 0, Max: 60},
		"timezone":                      {Desc: "IANA time zone of the tenant's days (birthdays, calendar years), such as Europe/Moscow."},
		"verification":                  {Desc: "When a redemption needs the customer's code."},
	}
	if m == input {
		for k, d := range map[string]string{"currency": "RUB", "accrue_on": "paid", "timezone": "Europe/Moscow"} {
			v := f[k]
			v.Default = d
			f[k] = v
		}
		for _, k := range []string{"excluded_skus", "excluded_categories"} {
			v := f[k]
			v.MaxItems = ptr(10000)
			f[k] = v
		}
		v := f["tiers"]
		v.MinItems, v.MaxItems = ptr(1), ptr(50)
		f["tiers"] = v
	}
	return f
}

func tierFields() map[string]Field {
	return map[string]Field{
		"name":               {Desc: "Name, 1 to 100 characters.", MinLen: ptr(1), MaxLen: ptr(100)},
		"threshold":          amount("The accumulated purchase sum that reaches the tier, hundredths."),
		"accrual_percent":    {Desc: "Percent of the accrual base earned, up to 4 decimals."},
		"max_redeem_percent": {Desc: "Percent of the eligible sum points may pay, up to 4 decimals."},
	}
}

func verificationFields() map[string]Field {
	return map[string]Field{
		"mode":         {Desc: "off, always, or above:<points in hundredths>.", Pattern: "^(off|always|above:[0-9]+)$"},
		"wait_seconds": {Desc: "How long a code stays valid.", Min: 0, Max: 3600},
	}
}

// extraSchemas are the shapes written without a Go type of their own.
func extraSchemas() []Property {
	page := func(desc, item string) *Schema {
		return &Schema{Type: "object", Description: desc, Required: []string{"items", "next_cursor"}, Properties: Properties{
			{"items", &Schema{Type: "array", Description: "This page, newest first.", Items: ref(item)}},
			{"next_cursor", &Schema{Type: "string", Nullable: true, Description: "Pass as cursor for the next page; null on the last page."}},
		}}
	}
	list := func(desc, item string) *Schema {
		return &Schema{Type: "object", Description: desc, Required: []string{"items"}, Properties: Properties{
			{"items", &Schema{Type: "array", Description: "All of them.", Items: ref(item)}},
		}}
	}
	return append(peopleSchemas(), []Property{
		{"OperationPage", page("A page of points history.", "Operation")},
		{"CustomerChangePage", page("A page of profile changes.", "CustomerChange")},
		{"APIKeyList", list("The tenant's API keys.", "APIKey")},
		{"StoreList", list("The tenant's stores.", "Store")},
		{"CardRangeList", list("The tenant's card ranges, oldest first.", "CardRange")},
		{"PromotionList", list("The promotions or offers that have not ended.", "Promotion")},
		{"EmptyBody", &Schema{Type: "object", Description: "An empty object.", AdditionalProperties: ptr(false)}},
		{"Health", &Schema{Type: "object", Description: "The server's health.", Required: []string{"status", "database"}, Properties: Properties{
			{"status", &Schema{Type: "string", Enum: []any{"ok"}, Description: "ok."}},
			{"database", &Schema{Type: "string", Enum: []any{"sqlite", "postgres"}, Description: "The database in use."}},
		}}},
		{"OpenAPIDocument", &Schema{Type: "object", Description: "An OpenAPI 3 document: this one."}},
	}...)
}

// phoneMaskedDesc describes kopilka.MaskPhone's form.
const phoneMaskedDesc = "phone with all but the country code and the last four digits starred, for showing which number it is: " +
	"+7 *** ***-45-67 for a Russian number, otherwise the country code, a star for each hidden digit and the last four digits (+49 **** 3456; " +
	"at least four digits after the country code are always starred, so a short number shows fewer than four); null when phone is."
