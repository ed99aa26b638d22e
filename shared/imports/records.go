package imports

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/money"
	"github.com/ledgerline/ledgerline/shared/payments"
)

// How rows become records
//
// Every row is checked as far as it can be without the database: required cells,
// types (dates, amounts, quantities, choices, currencies), lengths, and then the
// domain's own validation (counterparties.CreateInput.Apply, invoices and payments
// CreateInput.Validate), so that an import never accepts what the API would refuse.
// What needs the database (that a counterparty or invoice named by its external id
// exists, an invoice's direction against its counterparty's kind, allocations against
// amounts due) is checked when the records are applied.
//
// Counterparties take one row each. An external_id on two rows is an error on the
// later row: a file that says two things about one counterparty is a mistake.
//
// Invoices take one row per line, and payments one row per allocation. Rows with the
// same external_id are one invoice (or payment), wherever they are in the file: exports
// sorted by date or by customer interleave documents. The invoice-level cells
// (direction, counterparty, currency, dates, status, memo; for payments everything but
// the allocation) may be repeated on every row or given on one row only, as exports
// do either; where given twice they must agree, and a disagreement is an error on the
// later row. Lines keep the order of their rows.
//
// A record is imported whole or not at all: when any row of an invoice or payment has
// an error, its other rows get not_imported, naming the failed row, so that no invoice
// is ever imported without one of its lines.

// standIn stands for the counterparty while a record is validated by its domain: the
// record names it by external id, and its id is only known when the record is applied.
var standIn = uuid.MustParse("ffffffff-ffff-ffff-ffff-ffffffffffff")

type builder struct {
	kind   Kind
	src    source
	out    Records
	seen   map[string]int    // counterparty external id → its first row
	groups map[string]*group // invoice or payment external id → its rows
	order  []*group          // groups in order of first appearance
}

func newBuilder(kind Kind) *builder {
	return &builder{kind: kind, out: Records{Kind: kind}, seen: map[string]int{}, groups: map[string]*group{}}
}

// check collects the problems of one row.
type check struct {
	row  int
	errs []RowError
}

func (c *check) add(column string, p *problem) {
	c.errs = append(c.errs, RowError{Row: c.row, Column: column, Code: p.code, Reason: p.reason})
}

func (c *check) missing(column string) {
	c.add(column, fail(CodeMissingValue, "%s is required", column))
}

// domain adds the field errors of a domain validation, mapped to columns by column.
func (c *check) domain(err error, column func(field string) string) {
	e := apperr.From(err)
	if len(e.Fields) == 0 {
		c.add("", &problem{code: CodeInvalidValue, reason: e.Message})
		return
	}
	fields := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		c.add(column(f), &problem{code: CodeInvalidValue, reason: e.Fields[f]})
	}
}

func (b *builder) fail(errs ...RowError) { b.out.Errors = append(b.out.Errors, errs...) }

// add takes one data row and the problems the reader found with it.
func (b *builder) add(row Row, errs []RowError) {
	b.out.Rows++
	c := check{row: row.Number, errs: errs}
	switch b.kind {
	case Counterparties:
		b.counterparty(row, &c)
	case Invoices:
		b.invoiceRow(row, &c)
	case Payments:
		b.paymentRow(row, &c)
	}
}

// finish completes the groups and returns the records, with the errors in row order.
func (b *builder) finish() Records {
	for _, g := range b.order {
		if b.kind == Invoices {
			b.finishInvoice(g)
		} else {
			b.finishPayment(g)
		}
	}
	sort.SliceStable(b.out.Errors, func(i, j int) bool { return b.out.Errors[i].Row < b.out.Errors[j].Row })
	return b.out
}

func optional(cells map[string]string, col string) *string {
	if v, ok := cells[col]; ok {
		return &v
	}
	return nil
}

func (b *builder) counterparty(row Row, c *check) {
	cells := row.Cells
	var in counterparties.CreateInput
	ext, ok := cells[ColExternalID]
	if !ok {
		c.missing(ColExternalID)
	} else if _, p := parseID(ext); p != nil {
		c.add(ColExternalID, p)
	} else {
		in.ExternalID = &ext
	}
	if in.Name = cells[ColName]; in.Name == "" {
		c.missing(ColName)
	}
	if v, ok := cells[ColKind]; !ok {
		c.missing(ColKind)
	} else if k, p := counterpartyKinds.parse(v); p != nil {
		c.add(ColKind, p)
	} else {
		in.Kind = counterparties.Kind(k)
	}
	in.Email = optional(cells, ColEmail)
	in.TaxID = optional(cells, ColTaxID)
	if v, ok := cells[ColDefaultCurrency]; ok {
		if cur, p := parseCurrency(v); p != nil {
			c.add(ColDefaultCurrency, p)
		} else {
			in.DefaultCurrency = &cur
		}
	}
	if v, ok := cells[ColPaymentTermsDays]; ok {
		if n, p := parseDays(v); p != nil {
			c.add(ColPaymentTermsDays, p)
		} else {
			in.PaymentTermsDays = &n
		}
	}
	if len(c.errs) == 0 {
		if _, err := in.Apply(); err != nil {
			c.domain(err, func(field string) string { return field }) // the columns are the API's members
		}
	}
	if in.ExternalID != nil {
		if first, dup := b.seen[ext]; dup {
			c.add(ColExternalID, fail(CodeDuplicate, "external_id %s is also on row %d; a counterparty takes one row", quote(ext), first))
		} else {
			b.seen[ext] = row.Number
		}
	}
	if len(c.errs) > 0 {
		b.fail(c.errs...)
		return
	}
	b.out.Counterparties = append(b.out.Counterparties, CounterpartyRecord{Rows: []int{row.Number}, Input: in})
}

// group is the rows of one invoice or payment.
type group struct {
	ext   string
	rows  []int
	bad   map[int]bool     // rows with errors of their own
	head  map[string]value // document-level cells, as first given
	given map[string]bool  // document-level columns given, valid or not
	lines []lineCells      // invoices
	alloc []allocCells     // payments
}

// value is a document-level cell, in canonical form, and the row it came from.
type value struct {
	text string
	raw  string // as written, so that a repeated cell is not parsed again
	row  int
}

type lineCells struct {
	row                                                      int
	description, quantity, unit, amount, rate, tax, discount string
}

type allocCells struct {
	row     int
	invoice string
	amount  *money.Decimal
}

func (b *builder) group(ext string) *group {
	g := b.groups[ext]
	if g == nil {
		g = &group{ext: ext, bad: map[int]bool{}, head: map[string]value{}, given: map[string]bool{}}
		b.groups[ext] = g
		b.order = append(b.order, g)
	}
	return g
}

// headCell reads one document-level cell of a row with parse, which returns the
// value's canonical form, and checks it against the same column on earlier rows.
func (g *group) headCell(c *check, cells map[string]string, col, what string, parse func(string) (string, *problem)) {
	v, ok := cells[col]
	if !ok {
		return
	}
	if g != nil {
		if prev, ok := g.head[col]; ok && prev.raw == v {
			return // the same text as before: the same value, agreeing
		}
	}
	canon, p := parse(v)
	if g != nil {
		g.given[col] = true
	}
	if p != nil {
		c.add(col, p)
		return
	}
	if g == nil {
		return
	}
	if prev, ok := g.head[col]; !ok {
		g.head[col] = value{text: canon, raw: v, row: c.row}
	} else if prev.text != canon {
		c.add(col, fail(CodeConflictingValue, "%s here, but %s on row %d of the same %s (external_id %s)",
			quote(canon), quote(prev.text), prev.row, what, quote(g.ext)))
	}
}

func (g *group) settle(b *builder, c *check) {
	if len(c.errs) > 0 {
		if g != nil {
			g.bad[c.row] = true
		}
		b.fail(c.errs...)
	}
}

// docID reads a document's external id and finds its group; a row without one can
// only be reported.
func (b *builder) docID(cells map[string]string, c *check) *group {
	ext, ok := cells[ColExternalID]
	if !ok {
		c.missing(ColExternalID)
		return nil
	}
	g := b.group(ext)
	g.rows = append(g.rows, c.row)
	if _, p := parseID(ext); p != nil {
		c.add(ColExternalID, p)
	}
	return g
}

func textValue(s string) (string, *problem) { return s, nil }

func dateValue(src source) func(string) (string, *problem) {
	return func(s string) (string, *problem) {
		d, p := parseDate(s, src)
		if p != nil {
			return "", p
		}
		if len(s) == 10 {
			return s, nil // YYYY-MM-DD as read: already canonical
		}
		return d.String(), nil
	}
}

func amountValue(src source) func(string) (string, *problem) {
	return func(s string) (string, *problem) {
		d, p := parseAmount(s, src)
		if p != nil {
			return "", p
		}
		return d.String(), nil
	}
}

func (b *builder) invoiceRow(row Row, c *check) {
	cells := row.Cells
	g := b.docID(cells, c)
	g.headCell(c, cells, ColDirection, "invoice", invoiceDirections.parse)
	g.headCell(c, cells, ColCounterpartyExternalID, "invoice", parseID)
	g.headCell(c, cells, ColCurrency, "invoice", parseCurrency)
	g.headCell(c, cells, ColIssueDate, "invoice", dateValue(b.src))
	g.headCell(c, cells, ColDueDate, "invoice", dateValue(b.src))
	g.headCell(c, cells, ColStatus, "invoice", invoiceStatuses.parse)
	g.headCell(c, cells, ColMemo, "invoice", textValue)
	l := lineCells{
		row: row.Number, description: cells[ColDescription], quantity: cells[ColQuantity], unit: cells[ColUnitAmount],
		amount: cells[ColLineAmount], rate: cells[ColTaxRate], tax: cells[ColTaxAmount], discount: cells[ColDiscount],
	}
	if g == nil {
		// No invoice to check the line against: check it on its own, with its own currency.
		cur, _ := parseCurrency(cells[ColCurrency])
		b.line(l, cur, c)
		g.settle(b, c)
		return
	}
	g.lines = append(g.lines, l)
	g.settle(b, c)
}

// line reads one invoice line. currency is the invoice's, or "" when it has none (the
// amounts are then checked as numbers only).
func (b *builder) line(l lineCells, currency string, c *check) (invoices.LineInput, bool) {
	errs := len(c.errs)
	var in invoices.LineInput
	if in.Description = l.description; in.Description == "" {
		c.missing(ColDescription)
	}
	qty := one
	if l.quantity != "" {
		q, p := parseQuantity(l.quantity, b.src)
		if p != nil {
			c.add(ColQuantity, p)
		}
		qty = q
	}
	in.Quantity = qty.String()
	var unit, amount *money.Decimal
	if l.unit != "" {
		if d, p := parseAmount(l.unit, b.src); p != nil {
			c.add(ColUnitAmount, p)
		} else {
			unit = &d
		}
	}
	var amountMinor int64
	if l.amount != "" {
		if d, p := parseAmount(l.amount, b.src); p != nil {
			c.add(ColLineAmount, p)
		} else if currency != "" {
			if amountMinor, p = toMinor(d, currency); p != nil {
				c.add(ColLineAmount, p)
			} else {
				amount = &d
			}
		}
	}
	if l.unit == "" && l.amount == "" {
		c.add(ColUnitAmount, fail(CodeMissingValue, "a line needs unit_amount or line_amount"))
	}
	if l.rate != "" {
		if d, p := parseRate(l.rate, b.src); p != nil {
			c.add(ColTaxRate, p)
		} else {
			s := d.String()
			in.TaxRate = &s
		}
	}
	if l.tax != "" && l.rate == "" && !isZero(l.tax, b.src) {
		c.add(ColTaxAmount, fail(CodeUnsupported,
			"a tax amount of %s without a tax_rate: tax is computed from the rate, so give tax_rate on the row (or leave the tax amount blank)", quote(l.tax)))
	}
	if l.discount != "" && !isZero(l.discount, b.src) {
		c.add(ColDiscount, fail(CodeUnsupported,
			"discount %s: discounts are not imported; take them off unit_amount or line_amount and leave the discount blank", quote(l.discount)))
	}
	if len(c.errs) > errs || currency == "" {
		return in, false
	}
	exp, _ := money.Exponent(currency)
	switch {
	case unit != nil:
		if unit.Scale() <= exp {
			minor, p := toMinor(*unit, currency)
			if p != nil {
				c.add(ColUnitAmount, p)
				return in, false
			}
			in.UnitAmountMinor = &minor
		} else {
			s := unit.String()
			in.UnitPrice = &s
		}
		if amount != nil {
			got, err := money.LineAmountPrice(qty, *unit, exp, money.HalfEven)
			if err == nil && got != amountMinor {
				want, _ := money.FormatMinor(got, currency)
				c.add(ColLineAmount, fail(CodeAmountMismatch, "%s is not quantity × unit_amount (%s × %s = %s)",
					amount.String(), qty.String(), unit.String(), want))
				return in, false
			}
		}
	case amount != nil:
		if qty.Cmp(one) != 0 {
			c.add(ColQuantity, fail(CodeInvalidNumber,
				"a line given by line_amount alone has quantity 1; for %s units give unit_amount", qty.String()))
			return in, false
		}
		in.UnitAmountMinor = &amountMinor
	}
	return in, true
}

// isZero reports whether a cell that must be blank or zero is zero ("0", "0.00", "0%").
func isZero(s string, src source) bool {
	d, p := parseNumber(strings.TrimSpace(strings.TrimSuffix(s, "%")), src)
	return p == nil && d.IsZero()
}

// reject marks every row of g that has no error of its own as not imported, naming
// the first failed row.
func (b *builder) reject(g *group, what string) {
	first := 0
	for _, r := range g.rows {
		if g.bad[r] {
			first = r
			break
		}
	}
	for _, r := range g.rows {
		if !g.bad[r] {
			g.bad[r] = true
			b.fail(RowError{Row: r, Code: CodeNotImported, Reason: fmt.Sprintf(
				"not imported because row %d of the same %s (external_id %s) has errors", first, what, quote(g.ext))})
		}
	}
}

// requireHead reports the document-level columns no row of g gives, on g's first row.
func (b *builder) requireHead(g *group, what string, cols ...string) {
	for _, col := range cols {
		if !g.given[col] {
			b.fail(RowError{Row: g.rows[0], Column: col, Code: CodeMissingValue,
				Reason: fmt.Sprintf("%s is required: no row of %s %s gives it", col, what, quote(g.ext))})
			g.bad[g.rows[0]] = true
		}
	}
}

// source returns the row a document-level column came from, or the group's first row.
func (g *group) source(col string) int {
	if v, ok := g.head[col]; ok {
		return v.row
	}
	return g.rows[0]
}

var lineField = regexp.MustCompile(`^lines\[([0-9]+)\]\.([a-z_]+)$`)

func (b *builder) finishInvoice(g *group) {
	b.requireHead(g, "invoice", ColDirection, ColCounterpartyExternalID, ColCurrency, ColIssueDate)
	currency := g.head[ColCurrency].text
	in := invoices.CreateInput{
		// A copy of the id: a pointer into g would keep the group alive with the records.
		Direction: invoices.Direction(g.head[ColDirection].text), Currency: currency, ExternalID: ptr(g.ext),
		Lines: make([]invoices.LineInput, 0, len(g.lines)),
	}
	in.IssueDate, _ = civil.ParseDate(g.head[ColIssueDate].text)
	if v, ok := g.head[ColDueDate]; ok {
		d, _ := civil.ParseDate(v.text)
		in.DueDate = &d
	}
	if v, ok := g.head[ColStatus]; ok {
		s := invoices.Status(v.text)
		in.Status = &s
	}
	if v, ok := g.head[ColMemo]; ok {
		in.Memo = ptr(v.text)
	}
	for i, l := range g.lines {
		c := check{row: l.row}
		if i == invoices.MaxLines {
			c.add("", fail(CodeTooManyLines, "invoice %s has more than %d lines; split it", quote(g.ext), invoices.MaxLines))
		}
		if li, ok := b.line(l, currency, &c); ok {
			in.Lines = append(in.Lines, li)
		}
		g.settle(b, &c)
	}
	if len(g.bad) == 0 {
		in.CounterpartyID = standIn
		if err := in.Validate(); err != nil {
			b.invoiceDomain(g, err)
		}
		in.CounterpartyID = uuid.Nil
	}
	if len(g.bad) > 0 {
		b.reject(g, "invoice")
		return
	}
	b.out.Invoices = append(b.out.Invoices, InvoiceRecord{
		Rows: slices.Clone(g.rows), CounterpartyExternalID: g.head[ColCounterpartyExternalID].text, Input: in,
	})
}

// invoiceDomain reports what invoices.CreateInput.Validate refused, on the rows the
// fields came from.
func (b *builder) invoiceDomain(g *group, err error) {
	fields := apperr.From(err).Fields
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, f := range keys {
		row, col := g.rows[0], f
		if m := lineField.FindStringSubmatch(f); m != nil {
			i, _ := strconv.Atoi(m[1])
			if i < len(g.lines) {
				row = g.lines[i].row
			}
			switch col = m[2]; col {
			case "unit_amount_minor", "unit_price":
				col = ColUnitAmount
				if i < len(g.lines) && g.lines[i].unit == "" {
					col = ColLineAmount
				}
			}
		} else {
			switch f {
			case "lines", "counterparty_id":
				col = ""
			default:
				row = g.source(f)
			}
		}
		b.fail(RowError{Row: row, Column: col, Code: CodeInvalidValue, Reason: fields[f]})
		g.bad[row] = true
	}
	if len(fields) == 0 {
		b.fail(RowError{Row: g.rows[0], Code: CodeInvalidValue, Reason: apperr.From(err).Message})
		g.bad[g.rows[0]] = true
	}
}

func (b *builder) paymentRow(row Row, c *check) {
	cells := row.Cells
	g := b.docID(cells, c)
	g.headCell(c, cells, ColDirection, "payment", paymentDirections.parse)
	g.headCell(c, cells, ColCounterpartyExternalID, "payment", parseID)
	g.headCell(c, cells, ColAmount, "payment", amountValue(b.src))
	g.headCell(c, cells, ColCurrency, "payment", parseCurrency)
	g.headCell(c, cells, ColValueDate, "payment", dateValue(b.src))
	g.headCell(c, cells, ColMethod, "payment", paymentMethods.parse)
	g.headCell(c, cells, ColReference, "payment", textValue)
	a := allocCells{row: row.Number, invoice: cells[ColInvoiceExternalID]}
	if a.invoice != "" {
		if _, p := parseID(a.invoice); p != nil {
			c.add(ColInvoiceExternalID, p)
		}
	}
	if v, ok := cells[ColAllocatedAmount]; ok {
		if d, p := parseAmount(v, b.src); p != nil {
			c.add(ColAllocatedAmount, p)
		} else if d.Sign() == 0 {
			c.add(ColAllocatedAmount, fail(CodeInvalidAmount, "an allocated amount must be greater than zero"))
		} else {
			a.amount = &d
		}
		if a.invoice == "" {
			c.add(ColInvoiceExternalID, fail(CodeMissingValue, "allocated_amount needs the invoice_external_id it is allocated to"))
		}
	}
	if g != nil && (a.invoice != "" || a.amount != nil) {
		g.alloc = append(g.alloc, a)
	}
	g.settle(b, c)
}

func (b *builder) finishPayment(g *group) {
	b.requireHead(g, "payment", ColDirection, ColCounterpartyExternalID, ColAmount, ColCurrency, ColValueDate)
	in := payments.CreateInput{
		Direction: payments.Direction(g.head[ColDirection].text), Currency: g.head[ColCurrency].text, ExternalID: ptr(g.ext),
	}
	in.ValueDate, _ = civil.ParseDate(g.head[ColValueDate].text)
	if v, ok := g.head[ColMethod]; ok {
		in.Method = ptr(v.text)
	}
	if v, ok := g.head[ColReference]; ok {
		in.Reference = ptr(v.text)
	}
	amountOK := false
	if v, ok := g.head[ColAmount]; ok && in.Currency != "" {
		d, _ := money.ParseDecimal(v.text)
		minor, p := toMinor(d, in.Currency)
		switch {
		case p != nil:
			b.failOn(g, v.row, ColAmount, p)
		case minor == 0:
			b.failOn(g, v.row, ColAmount, fail(CodeInvalidAmount, "the payment amount must be greater than zero"))
		default:
			in.AmountMinor, amountOK = minor, true
		}
	}
	var allocs []AllocationRecord
	if amountOK {
		allocs = b.allocations(g, in)
	}
	if len(g.bad) == 0 {
		in.CounterpartyID = standIn
		if err := in.Validate(); err != nil {
			e := apperr.From(err)
			for _, f := range sortedKeys(e.Fields) {
				col := f
				if f == "amount_minor" {
					col = ColAmount
				}
				b.failOn(g, g.source(col), col, &problem{code: CodeInvalidValue, reason: e.Fields[f]})
			}
		}
		in.CounterpartyID = uuid.Nil
	}
	if len(g.bad) > 0 {
		b.reject(g, "payment")
		return
	}
	b.out.Payments = append(b.out.Payments, PaymentRecord{
		Rows: slices.Clone(g.rows), CounterpartyExternalID: g.head[ColCounterpartyExternalID].text, Input: in, Allocations: allocs,
	})
}

func (b *builder) failOn(g *group, row int, col string, p *problem) {
	b.fail(RowError{Row: row, Column: col, Code: p.code, Reason: p.reason})
	g.bad[row] = true
}

// allocations reads the allocation rows of a payment whose amount is known.
func (b *builder) allocations(g *group, in payments.CreateInput) []AllocationRecord {
	var out []AllocationRecord
	seen := map[string]int{}
	var total int64
	for _, a := range g.alloc {
		if a.invoice == "" {
			continue // reported when the row was read
		}
		var minor int64
		switch {
		case a.amount != nil:
			var p *problem
			if minor, p = toMinor(*a.amount, in.Currency); p != nil {
				b.failOn(g, a.row, ColAllocatedAmount, p)
				continue
			}
		case len(g.alloc) == 1:
			minor = in.AmountMinor // one invoice: the whole payment
		default:
			b.failOn(g, a.row, ColAllocatedAmount, fail(CodeMissingValue,
				"allocated_amount is required when a payment is allocated to several invoices"))
			continue
		}
		if first, dup := seen[a.invoice]; dup {
			b.failOn(g, a.row, ColInvoiceExternalID, fail(CodeDuplicate,
				"invoice %s is already allocated on row %d; give one row per invoice", quote(a.invoice), first))
			continue
		}
		seen[a.invoice] = a.row
		if len(out) == payments.MaxAllocations {
			b.failOn(g, a.row, ColInvoiceExternalID, fail(CodeTooMany,
				"payment %s is allocated to more than %d invoices", quote(g.ext), payments.MaxAllocations))
			continue
		}
		sum, err := money.Add(total, minor)
		if err != nil || sum > in.AmountMinor {
			amount, _ := money.FormatMinor(in.AmountMinor, in.Currency)
			b.failOn(g, a.row, ColAllocatedAmount, fail(CodeOverAllocated,
				"the allocations of payment %s add up to more than its amount, %s", quote(g.ext), amount))
			continue
		}
		total = sum
		out = append(out, AllocationRecord{InvoiceExternalID: a.invoice, AmountMinor: minor})
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
