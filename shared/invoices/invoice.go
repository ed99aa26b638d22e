// Package invoices holds invoices (receivable) and bills (payable) and the credit notes
// issued against them: their types, line arithmetic and validation (invoice.go,
// credit.go; no I/O), the use cases that own transactions and write audit and outbox
// records (service.go), and the only SQL that touches them (store.go).
package invoices

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/money"
	"github.com/ledgerline/ledgerline/shared/patch"
	"github.com/ledgerline/ledgerline/shared/settings"
)

// Direction says who owes whom.
type Direction string

const (
	Receivable Direction = "receivable" // the tenant invoiced a customer
	Payable    Direction = "payable"    // a vendor billed the tenant
)

// Valid reports whether d is a known direction.
func (d Direction) Valid() bool { return d == Receivable || d == Payable }

// Status is where an invoice is in its lifecycle.
type Status string

const (
	Draft         Status = "draft"
	Open          Status = "open"
	Paid          Status = "paid"
	Void          Status = "void"
	Uncollectible Status = "uncollectible"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case Draft, Open, Paid, Void, Uncollectible:
		return true
	}
	return false
}

// TaxRounding is where tax is rounded to the minor unit: on each line, or once per
// tax rate over the whole document.
type TaxRounding string

const (
	PerLine     TaxRounding = "per_line"
	PerDocument TaxRounding = "per_document"
)

// Line is one invoice line. Amounts are minor units of the invoice's currency. Exactly
// one of UnitAmountMinor and UnitPrice is set: the price of one unit in minor units, or
// in major units as a decimal (for prices below one minor unit).
type Line struct {
	ID              uuid.UUID `json:"id"`
	Position        int       `json:"position"`
	Description     string    `json:"description"`
	Quantity        string    `json:"quantity"`
	UnitAmountMinor *int64    `json:"unit_amount_minor"`
	UnitPrice       *string   `json:"unit_price"`
	TaxRate         *string   `json:"tax_rate"`
	AmountMinor     int64     `json:"amount_minor"`
	TaxMinor        int64     `json:"tax_minor"`
	TotalMinor      int64     `json:"total_minor"`
}

// Summary is an invoice without its lines, as list pages show it.
type Summary struct {
	ID                  uuid.UUID   `json:"id"`
	Object              string      `json:"object"`
	Direction           Direction   `json:"direction"`
	Status              Status      `json:"status"`
	Number              *string     `json:"number"`
	CounterpartyID      uuid.UUID   `json:"counterparty_id"`
	Currency            string      `json:"currency"`
	IssueDate           civil.Date  `json:"issue_date"`
	DueDate             civil.Date  `json:"due_date"`
	Memo                *string     `json:"memo"`
	ExternalID          *string     `json:"external_id"`
	SubtotalMinor       int64       `json:"subtotal_minor"`
	TaxMinor            int64       `json:"tax_minor"`
	TotalMinor          int64       `json:"total_minor"`
	AmountPaidMinor     int64       `json:"amount_paid_minor"`
	AmountCreditedMinor int64       `json:"amount_credited_minor"`
	AmountDueMinor      int64       `json:"amount_due_minor"`
	TaxRounding         TaxRounding `json:"tax_rounding"`
	Version             int         `json:"version"`
	CreatedAt           time.Time   `json:"created_at"`
	UpdatedAt           time.Time   `json:"updated_at"`
	FinalizedAt         *time.Time  `json:"finalized_at"`
	VoidedAt            *time.Time  `json:"voided_at"`
	UncollectibleAt     *time.Time  `json:"uncollectible_at"`
}

// Invoice is an invoice or bill with its lines.
type Invoice struct {
	Summary
	Lines []Line `json:"lines"`
}

// LineInput is one line of a create or update request or of a credit note.
type LineInput struct {
	Description     string  `json:"description"`
	Quantity        string  `json:"quantity"`
	UnitAmountMinor *int64  `json:"unit_amount_minor"`
	UnitPrice       *string `json:"unit_price"`
	TaxRate         *string `json:"tax_rate"`
}

// CreateInput is the body of POST /v1/invoices.
type CreateInput struct {
	Direction      Direction   `json:"direction"`
	CounterpartyID uuid.UUID   `json:"counterparty_id"`
	Currency       string      `json:"currency"`
	IssueDate      civil.Date  `json:"issue_date"`
	DueDate        *civil.Date `json:"due_date"`
	Status         *Status     `json:"status"`
	Memo           *string     `json:"memo"`
	ExternalID     *string     `json:"external_id"`
	Lines          []LineInput `json:"lines"`
}

// MaxLines bounds one invoice; larger documents are split upstream.
const MaxLines = 500

// draft is a validated create request with every line amount computed. Taxes and
// totals are computed by price once the tenant's tax rounding mode has been read.
type draft struct {
	in     CreateInput
	status Status
	lines  []Line
}

// prepare validates in and computes each line's amount.
func prepare(in CreateInput) (draft, error) {
	f := apperr.Fields{}
	if !in.Direction.Valid() {
		f.Add("direction", "must be receivable or payable")
	}
	if in.CounterpartyID == uuid.Nil {
		f.Add("counterparty_id", "is required")
	}
	if !money.ValidCurrency(in.Currency) {
		f.Add("currency", "must be an active ISO 4217 code in upper case")
	}
	if in.IssueDate.IsZero() || !in.IssueDate.IsValid() {
		f.Add("issue_date", "is required (YYYY-MM-DD)")
	}
	if in.DueDate != nil && in.DueDate.Before(in.IssueDate) {
		f.Add("due_date", "must not be before issue_date")
	}
	status := Draft
	if in.Status != nil {
		status = *in.Status
		if status != Draft && status != Open {
			f.Add("status", "must be draft or open")
		}
	}
	checkMemo(in.Memo, f)
	checkExternalID(in.ExternalID, f)
	checkLineCount(len(in.Lines), MaxLines, f)
	lines := parseLines(in.Lines, in.Currency, f)
	if err := f.Err(); err != nil {
		return draft{}, err
	}
	return draft{in: in, status: status, lines: lines}, nil
}

// Validate returns the 422 that Create answers for in before it reads anything: every
// field and line rule, with each line's amount computed, so that bulk imports refuse
// exactly what the API refuses. What needs the database (the counterparty, the tax
// rounding setting) is left to Create.
func (in CreateInput) Validate() error {
	_, err := prepare(in)
	return err
}

func checkMemo(memo *string, f apperr.Fields) {
	if memo != nil && len([]rune(*memo)) > 2000 {
		f.Add("memo", "must be at most 2000 characters")
	}
}

func checkExternalID(id *string, f apperr.Fields) {
	if id != nil && (len(*id) == 0 || len(*id) > 128) {
		f.Add("external_id", "must be 1 to 128 characters")
	}
}

func checkLineCount(n, maxLines int, f apperr.Fields) {
	switch {
	case n == 0:
		f.Add("lines", "at least one line is required")
	case n > maxLines:
		f.Add("lines", fmt.Sprintf("at most %d lines", maxLines))
	}
}

// parseLines validates lines and computes each line's amount: quantity × unit amount,
// or quantity × unit price in major units × 10^exponent of currency, rounded once,
// half-even, to the minor unit. Problems are recorded in f under lines[i].<member>.
// Taxes are left to price. With an unknown currency, lines priced by unit_price are
// skipped: the caller has reported the currency already.
func parseLines(ins []LineInput, currency string, f apperr.Fields) []Line {
	lines := make([]Line, 0, len(ins))
	for i, li := range ins {
		field := func(name string) string { return fmt.Sprintf("lines[%d].%s", i, name) }
		if line, ok := parseLine(li, i+1, currency, field, f); ok {
			lines = append(lines, line)
		}
	}
	return lines
}

func parseLine(li LineInput, position int, currency string, field func(string) string, f apperr.Fields) (Line, bool) {
	bad := false
	desc := strings.TrimSpace(li.Description)
	if desc == "" || len([]rune(desc)) > 500 {
		f.Add(field("description"), "must be 1 to 500 characters")
		bad = true
	}
	qty, err := money.ParseDecimal(li.Quantity)
	if err != nil {
		f.Add(field("quantity"), "must be a decimal string such as \"3\" or \"2.5\"")
		bad = true
	} else if qty.Sign() <= 0 {
		f.Add(field("quantity"), "must be greater than zero")
		bad = true
	}
	var price money.Decimal
	var priceText *string
	switch {
	case (li.UnitAmountMinor == nil) == (li.UnitPrice == nil):
		f.Add(field("unit_amount_minor"), "exactly one of unit_amount_minor and unit_price is required")
		bad = true
	case li.UnitAmountMinor != nil && *li.UnitAmountMinor < 0:
		f.Add(field("unit_amount_minor"), "must not be negative")
		bad = true
	case li.UnitPrice != nil:
		price, err = money.ParseDecimal(*li.UnitPrice)
		if err != nil || price.Sign() < 0 {
			f.Add(field("unit_price"), "must be a decimal string of major units such as \"0.0125\"")
			bad = true
		} else {
			s := price.String()
			priceText = &s
		}
	}
	var rateText *string
	if li.TaxRate != nil {
		rate, err := money.ParseDecimal(*li.TaxRate)
		if err != nil || rate.Sign() < 0 || rate.Cmp(hundred) > 0 || rate.Scale() > 6 {
			f.Add(field("tax_rate"), "must be a percentage from 0 to 100 with at most 6 decimals")
			bad = true
		} else {
			s := rate.String()
			rateText = &s
		}
	}
	if bad {
		return Line{}, false
	}
	line := Line{
		ID: uuid.Must(uuid.NewV7()), Position: position, Description: desc, Quantity: qty.String(),
		UnitAmountMinor: li.UnitAmountMinor, UnitPrice: priceText, TaxRate: rateText,
	}
	if li.UnitAmountMinor != nil {
		if line.AmountMinor, err = money.LineAmount(qty, *li.UnitAmountMinor, money.HalfEven); err != nil {
			f.Add(field("unit_amount_minor"), "quantity × unit amount is too large")
			return Line{}, false
		}
		return line, true
	}
	exp, ok := money.Exponent(currency)
	if !ok {
		return Line{}, false
	}
	if line.AmountMinor, err = money.LineAmountPrice(qty, price, exp, money.HalfEven); err != nil {
		f.Add(field("unit_price"), "quantity × unit price is too large")
		return Line{}, false
	}
	return line, true
}

var hundred, _ = money.ParseDecimal("100")

// totals are a document's sums: exact sums of its rounded lines, so the lines always
// add up to the document.
type totals struct {
	subtotal, tax, total int64
}

// price sets each line's tax and total, rounding tax with mode, and returns the
// document's totals. Per line, each line's tax is its amount × rate, rounded half-even.
// Per document, the lines of each rate are taxed together (one rounding per rate, so
// the document's tax is what a tax authority computing from the totals gets) and that
// tax is distributed back to the lines by largest remainder.
func price(lines []Line, mode TaxRounding) (totals, error) {
	if mode == PerDocument {
		if err := taxPerDocument(lines); err != nil {
			return totals{}, err
		}
	} else {
		for i, l := range lines {
			tax, err := lineTax(l)
			if err != nil {
				return totals{}, apperr.Validation(map[string]string{fmt.Sprintf("lines[%d].tax_rate", i): "the tax amount is too large"})
			}
			lines[i].TaxMinor = tax
		}
	}
	amounts := make([]int64, len(lines))
	taxes := make([]int64, len(lines))
	for i, l := range lines {
		total, err := money.Add(l.AmountMinor, l.TaxMinor)
		if err != nil {
			return totals{}, apperr.Validation(map[string]string{fmt.Sprintf("lines[%d].%s", i, l.priceMember()): "the line total is too large"})
		}
		lines[i].TotalMinor = total
		amounts[i], taxes[i] = l.AmountMinor, l.TaxMinor
	}
	var t totals
	var err1, err2, err3 error
	t.subtotal, err1 = money.Sum(amounts...)
	t.tax, err2 = money.Sum(taxes...)
	t.total, err3 = money.Add(t.subtotal, t.tax)
	if err1 != nil || err2 != nil || err3 != nil {
		return totals{}, apperr.Validation(map[string]string{"lines": "the total is too large"})
	}
	return t, nil
}

// priceMember names the request member a line's amount came from, for error messages.
func (l Line) priceMember() string {
	if l.UnitPrice != nil {
		return "unit_price"
	}
	return "unit_amount_minor"
}

func lineTax(l Line) (int64, error) {
	if l.TaxRate == nil {
		return 0, nil
	}
	rate, err := money.ParseDecimal(*l.TaxRate)
	if err != nil {
		return 0, err
	}
	return money.Tax(l.AmountMinor, rate, money.HalfEven)
}

// taxPerDocument taxes the lines of each distinct rate together. Rates are canonical
// decimal strings, so "20" and "20.0" are one group.
func taxPerDocument(lines []Line) error {
	groups := map[string][]int{}
	for i, l := range lines {
		lines[i].TaxMinor = 0
		if l.TaxRate != nil {
			groups[*l.TaxRate] = append(groups[*l.TaxRate], i)
		}
	}
	for rateText, idx := range groups {
		rate, err := money.ParseDecimal(rateText)
		if err != nil {
			return err
		}
		amounts := make([]int64, len(idx))
		for k, i := range idx {
			amounts[k] = lines[i].AmountMinor
		}
		shares, err := distributeTax(amounts, rate)
		if err != nil {
			return apperr.Validation(map[string]string{"lines": "the total is too large"})
		}
		for k, i := range idx {
			lines[i].TaxMinor = shares[k]
		}
	}
	return nil
}

// distributeTax rounds the tax on the sum of amounts at rate once, half-even, and
// splits it over the amounts by largest remainder: each gets the floor of its exact
// share, and the minor units left over go one each to the largest fractional parts
// (ties to the earlier line). The shares sum to the rounded tax and each is within one
// minor unit of its exact share. Amounts and rate must not be negative.
func distributeTax(amounts []int64, rate money.Decimal) ([]int64, error) {
	base, err := money.Sum(amounts...)
	if err != nil {
		return nil, err
	}
	tax, err := money.Tax(base, rate, money.HalfEven)
	if err != nil {
		return nil, err
	}
	// share = amount × rate / 100 = amount × num / (den × 100), exactly.
	r := rate.Rat()
	den := new(big.Int).Mul(r.Denom(), big.NewInt(100))
	shares := make([]int64, len(amounts))
	rems := make([]*big.Int, len(amounts))
	left := tax
	for i, a := range amounts {
		q, m := new(big.Int).QuoRem(new(big.Int).Mul(big.NewInt(a), r.Num()), den, new(big.Int))
		shares[i], rems[i] = q.Int64(), m
		left -= shares[i]
	}
	// The floors sum to at most the exact tax, and the rounded tax exceeds that sum by
	// less than one unit per line with a fractional share.
	if left < 0 || left > int64(len(amounts)) {
		return nil, fmt.Errorf("invoices: tax %d cannot be distributed over %d lines", tax, len(amounts))
	}
	order := make([]int, len(amounts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rems[order[a]].Cmp(rems[order[b]]) > 0 })
	for _, i := range order[:left] {
		shares[i]++
	}
	return shares, nil
}

// documentNumber writes sequence number n (of sequence receivable, payable or
// credit_note) of a document dated date in the tenant's numbering format, from the
// settings in effect when the number is assigned. The number is stored with the
// document, so a later change of format never renumbers an issued one.
func documentNumber(cfg settings.Settings, sequence string, n int64, date civil.Date) (string, error) {
	format := cfg.InvoiceNumberFormat
	switch sequence {
	case string(Payable):
		format = cfg.BillNumberFormat
	case "credit_note":
		format = cfg.CreditNoteNumberFormat
	}
	return settings.FormatNumber(format, n, date)
}

// Number is a document's number in the default format (settings.Defaults).
func Number(d Direction, n int64) string {
	if d == Payable {
		return fmt.Sprintf("BILL-%06d", n)
	}
	return fmt.Sprintf("INV-%06d", n)
}

// Sort is the order of an invoice list.
type Sort string

const (
	SortCreated Sort = "created"  // newest first
	SortDueDate Sort = "due_date" // earliest due first, then by id
)

// Valid reports whether s is a known order.
func (s Sort) Valid() bool { return s == SortCreated || s == SortDueDate }

// ListFilter narrows GET /v1/invoices. Date bounds are inclusive.
type ListFilter struct {
	Direction      *Direction
	Status         *Status
	CounterpartyID *uuid.UUID
	Currency       *string
	DueBefore      *civil.Date
	DueAfter       *civil.Date
	IssuedFrom     *civil.Date
	IssuedTo       *civil.Date
	// Overdue selects invoices that are still owed (open or uncollectible with an
	// amount due) and past their due date, or with false everything else.
	Overdue *bool
	Sort    Sort
}

// UpdateInput is the JSON merge-patch body of PATCH /v1/invoices/{id}: an absent member
// keeps its value, null clears a nullable one, and lines replaces every line.
type UpdateInput struct {
	CounterpartyID patch.Field[uuid.UUID]   `json:"counterparty_id"`
	Currency       patch.Field[string]      `json:"currency"`
	IssueDate      patch.Field[civil.Date]  `json:"issue_date"`
	DueDate        patch.Field[civil.Date]  `json:"due_date"`
	Memo           patch.Field[string]      `json:"memo"`
	ExternalID     patch.Field[string]      `json:"external_id"`
	Lines          patch.Field[[]LineInput] `json:"lines"`
}

// apply validates in against the draft cur and returns the patched draft with every
// line recomputed in the (possibly new) currency with the draft's tax rounding. Lines
// that are not replaced keep their ids. Version and timestamps are the caller's.
func (in UpdateInput) apply(cur Invoice) (Invoice, error) {
	f := apperr.Fields{}
	required := map[string]bool{
		"counterparty_id": in.CounterpartyID.Null, "currency": in.Currency.Null, "issue_date": in.IssueDate.Null,
		"due_date": in.DueDate.Null, "lines": in.Lines.Null,
	}
	for name, null := range required {
		if null {
			f.Add(name, "must not be null")
		}
	}
	next := cur
	next.CounterpartyID = in.CounterpartyID.Or(cur.CounterpartyID)
	next.Currency = in.Currency.Or(cur.Currency)
	next.IssueDate = in.IssueDate.Or(cur.IssueDate)
	next.DueDate = in.DueDate.Or(cur.DueDate)
	next.Memo = in.Memo.Apply(cur.Memo)
	next.ExternalID = in.ExternalID.Apply(cur.ExternalID)
	if next.CounterpartyID == uuid.Nil {
		f.Add("counterparty_id", "is required")
	}
	if !money.ValidCurrency(next.Currency) {
		f.Add("currency", "must be an active ISO 4217 code in upper case")
	}
	if next.IssueDate.IsZero() || !next.IssueDate.IsValid() {
		f.Add("issue_date", "must be a date (YYYY-MM-DD)")
	}
	if !next.DueDate.IsValid() {
		f.Add("due_date", "must be a date (YYYY-MM-DD)")
	} else if next.DueDate.Before(next.IssueDate) {
		f.Add("due_date", "must not be before issue_date")
	}
	checkMemo(next.Memo, f)
	checkExternalID(next.ExternalID, f)
	if in.Lines.Set && !in.Lines.Null {
		checkLineCount(len(in.Lines.Value), MaxLines, f)
		next.Lines = parseLines(in.Lines.Value, next.Currency, f)
	} else {
		inputs := make([]LineInput, len(cur.Lines))
		for i, l := range cur.Lines {
			inputs[i] = LineInput{Description: l.Description, Quantity: l.Quantity, UnitAmountMinor: l.UnitAmountMinor,
				UnitPrice: l.UnitPrice, TaxRate: l.TaxRate}
		}
		next.Lines = parseLines(inputs, next.Currency, f)
		for i := range next.Lines {
			next.Lines[i].ID = cur.Lines[i].ID
		}
	}
	if err := f.Err(); err != nil {
		return Invoice{}, err
	}
	t, err := price(next.Lines, next.TaxRounding)
	if err != nil {
		return Invoice{}, err
	}
	next.SubtotalMinor, next.TaxMinor, next.TotalMinor, next.AmountDueMinor = t.subtotal, t.tax, t.total, t.total
	return next, nil
}

// ReasonInput is the optional body of void and mark-uncollectible.
type ReasonInput struct {
	Reason *string `json:"reason"`
}

func (in ReasonInput) validate() error {
	if in.Reason != nil {
		if n := len([]rune(*in.Reason)); n == 0 || n > 500 {
			return apperr.Validation(map[string]string{"reason": "must be 1 to 500 characters"})
		}
	}
	return nil
}

// withReason is an invoice as recorded by a change that was given a reason.
type withReason struct {
	Invoice
	Reason *string `json:"reason"`
}

// taxRoundingOf reads the tenant's tax_rounding setting; unset means per line. Any
// other value is refused rather than guessed: it would decide the tax on legal
// documents.
func taxRoundingOf(setting *string) (TaxRounding, error) {
	if setting == nil {
		return PerLine, nil
	}
	switch m := TaxRounding(*setting); m {
	case PerLine, PerDocument:
		return m, nil
	}
	return "", fmt.Errorf("invoices: tenant setting tax_rounding %q is not per_line or per_document", *setting)
}
