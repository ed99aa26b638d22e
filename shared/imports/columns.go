package imports

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// Column is one column a file of a kind may have: its canonical name (the JSON member
// name of the API where there is one), the other headers accepted for it, whether
// every file must have it, and what it holds.
//
// A header names a column when it equals the name or an alias after normalisation:
// case is ignored, and so are white space and the characters _ - . # * (so
// "Invoice No.", "invoice_no" and "InvoiceNo" are one header, and Xero's "*ContactName"
// template marker does not matter).
type Column struct {
	Name        string   `json:"name"`
	Aliases     []string `json:"aliases,omitempty"`
	Required    bool     `json:"required"`
	Description string   `json:"description"`
}

// Canonical column names. Row errors name these, whatever the file's header said.
const (
	ColExternalID             = "external_id"
	ColName                   = "name"
	ColKind                   = "kind"
	ColEmail                  = "email"
	ColTaxID                  = "tax_id"
	ColDefaultCurrency        = "default_currency"
	ColPaymentTermsDays       = "payment_terms_days"
	ColDirection              = "direction"
	ColCounterpartyExternalID = "counterparty_external_id"
	ColCurrency               = "currency"
	ColIssueDate              = "issue_date"
	ColDueDate                = "due_date"
	ColStatus                 = "status"
	ColMemo                   = "memo"
	ColDescription            = "description"
	ColQuantity               = "quantity"
	ColUnitAmount             = "unit_amount"
	ColLineAmount             = "line_amount"
	ColTaxRate                = "tax_rate"
	ColTaxAmount              = "tax_amount"
	ColDiscount               = "discount"
	ColAmount                 = "amount"
	ColValueDate              = "value_date"
	ColMethod                 = "method"
	ColReference              = "reference"
	ColInvoiceExternalID      = "invoice_external_id"
	ColAllocatedAmount        = "allocated_amount"
)

// Aliases shared by several kinds. Each list is what ERP exports call the thing: QuickBooks
// (InvoiceNo, ItemRate), Xero (InvoiceNumber, UnitAmount, LineAmount), NetSuite (Document
// Number, Internal ID), SAP (Billing Document, Sold-To Party, Net Value), Sage (Account
// Reference, Details, Net Amount) and the plain English of hand-made sheets.
var (
	// counterpartyIDAliases name a customer's or vendor's number in a file of them.
	counterpartyIDAliases = []string{
		"Customer ID", "Customer Number", "Customer No", "Customer Code", "Customer Account", "Customer Ref",
		"Vendor ID", "Vendor Number", "Vendor No", "Vendor Code", "Vendor Account", "Vendor Ref",
		"Supplier ID", "Supplier Number", "Supplier No", "Supplier Code", "Supplier Account", "Supplier Ref",
		"Account Reference", "A/C", "A/C Ref",
	}
	// counterpartyRefAliases name it in an invoice or payment file. Not "Account Code"
	// or "Account Number", which there are general-ledger accounts (Xero's AccountCode,
	// NetSuite's Account), nor "Counterparty ID", which in Ledgerline's own invoice
	// export is Ledgerline's id, not yours.
	counterpartyRefAliases = append([]string{"Contact ID", "Customer/Vendor ID", "Sold-To Party", "Payer ID", "Payee ID"},
		counterpartyIDAliases...)
	currencyAliases = []string{
		"Currency Code", "Curr", "Curr Code", "Currency ISO", "CCY", "Document Currency", "Transaction Currency",
	}
)

var counterpartyColumns = []Column{
	{Name: ColExternalID, Required: true,
		Aliases:     append([]string{"Internal ID", "Account Number", "Account No"}, counterpartyIDAliases...),
		Description: "Your identifier of the customer or vendor (its number in your ERP), 1 to 128 characters. Importing the same external_id again updates the counterparty instead of creating another."},
	{Name: ColName, Required: true,
		Aliases:     []string{"Company", "Company Name", "Customer Name", "Vendor Name", "Supplier Name", "Contact Name", "Display Name", "Legal Name", "Account Name", "Business Name", "Name 1"},
		Description: "The name, 1 to 200 characters."},
	{Name: ColKind, Required: true,
		Aliases:     []string{"Type", "Contact Type", "Counterparty Type", "Customer/Vendor", "Role"},
		Description: "customer, vendor or both (client and supplier are read as customer and vendor)."},
	{Name: ColEmail,
		Aliases:     []string{"Email Address", "E-mail", "E-mail Address", "Primary Email", "Main Email", "Contact Email", "Billing Email"},
		Description: "A plain e-mail address."},
	{Name: ColTaxID,
		Aliases:     []string{"Tax Number", "Tax No", "Tax Registration Number", "Tax Identification Number", "Tax Number 1", "TIN", "EIN", "ABN", "VAT Number", "VAT No", "VAT ID", "VAT Registration Number", "VAT Reg No", "GST Number", "Business Number"},
		Description: "The tax or VAT registration number, 1 to 64 characters."},
	{Name: ColDefaultCurrency,
		Aliases:     append([]string{"Currency"}, currencyAliases...),
		Description: "ISO 4217 code (USD, EUR, JPY); lower case is accepted."},
	{Name: ColPaymentTermsDays,
		Aliases:     []string{"Payment Terms", "Terms", "Terms Days", "Payment Terms (Days)", "Due Days", "Payment Due Days", "Net Days", "Credit Days", "Credit Terms"},
		Description: "Days from issue to due date, 0 to 365; \"Net 30\" and \"Due on receipt\" are understood. Default 30."},
}

var invoiceColumns = []Column{
	{Name: ColExternalID, Required: true,
		Aliases:     []string{"Invoice Number", "Invoice No", "Invoice #", "Invoice ID", "Invoice Ref", "Bill Number", "Bill No", "Bill ID", "Document Number", "Document No", "Doc Number", "Doc No", "Num", "Transaction Number", "Transaction ID", "Billing Document"},
		Description: "Your identifier of the invoice or bill, 1 to 128 characters, unique among your invoices. Rows with the same external_id are the lines of one invoice. Importing it again updates the draft instead of creating another."},
	{Name: ColDirection, Required: true,
		Aliases:     []string{"Type", "Invoice Type", "Document Type", "Transaction Type", "Txn Type", "AR/AP", "Ledger"},
		Description: "receivable (an invoice to a customer; also AR, sales, ACCREC, SI) or payable (a bill from a vendor; also AP, purchase, bill, ACCPAY, PI)."},
	{Name: ColCounterpartyExternalID, Required: true,
		Aliases:     counterpartyRefAliases,
		Description: "The external_id of the customer or vendor, who must exist when the invoice is applied (import counterparties first)."},
	{Name: ColCurrency, Required: true,
		Aliases:     append([]string{"Invoice Currency"}, currencyAliases...),
		Description: "ISO 4217 code of the invoice; amounts are in its major units."},
	{Name: ColIssueDate, Required: true,
		Aliases:     []string{"Invoice Date", "Date", "Txn Date", "Transaction Date", "Tran Date", "Document Date", "Bill Date", "Billing Date", "Issued", "Issued On"},
		Description: "YYYY-MM-DD; in XLSX also a date cell."},
	{Name: ColDueDate,
		Aliases:     []string{"Due", "Payment Due", "Payment Due Date", "Due On", "Net Due Date"},
		Description: "YYYY-MM-DD, not before issue_date; in XLSX also a date cell. Default: issue_date plus the counterparty's payment terms."},
	{Name: ColStatus,
		Aliases:     []string{"Invoice Status"},
		Description: "draft (default) or open, which issues the invoice (issued, approved, authorised and posted are read as open)."},
	{Name: ColMemo,
		Aliases:     []string{"Notes", "Note", "Message", "Message on Invoice", "Customer Memo", "Comments", "Comment", "Remarks", "Header Text"},
		Description: "A note on the invoice, at most 2000 characters."},
	{Name: ColDescription, Required: true,
		Aliases:     []string{"Line Description", "Item Description", "ItemDescription", "Details", "Particulars", "Line Item", "Product Description", "Service Description", "Material Description"},
		Description: "What the line is for, 1 to 500 characters."},
	{Name: ColQuantity,
		Aliases:     []string{"Qty", "Units", "Line Quantity", "Item Quantity", "Billed Quantity", "Invoiced Quantity"},
		Description: "A positive decimal. Default 1."},
	{Name: ColUnitAmount,
		Aliases:     []string{"Unit Price", "Price", "Unit Cost", "Unit Rate", "Item Rate", "Price Each", "Sales Price", "Net Price"},
		Description: "Price of one unit before tax, a decimal in major units (12.50), below one minor unit if need be (0.0125). The line amount is quantity × unit_amount rounded half-even to the minor unit. One of unit_amount and line_amount is required."},
	{Name: ColLineAmount,
		Aliases:     []string{"Amount", "Line Amount", "Item Amount", "Net Amount", "Net Value", "Line Net Amount", "Amount Excl Tax", "Amount Excluding Tax"},
		Description: "The line's amount before tax, in major units, exact to the currency's minor unit. Alone it is a line of quantity 1; with unit_amount it must equal quantity × unit_amount."},
	{Name: ColTaxRate,
		Aliases:     []string{"Tax %", "Tax Rate %", "Tax Percent", "Tax Percentage", "VAT Rate", "VAT %", "GST Rate", "GST %", "Sales Tax Rate"},
		Description: "Tax as a percentage from 0 to 100 with at most 6 decimals (20 or 20% for 20 %). In XLSX a number between 0 and 1 is refused as ambiguous: a cell formatted as a percentage holds 20 % as 0.2."},
	{Name: ColTaxAmount,
		Aliases:     []string{"Tax", "VAT Amount", "GST Amount", "Sales Tax Amount"},
		Description: "Not imported: tax is computed from tax_rate. Read only so that a row with a tax amount and no tax_rate is refused instead of losing its tax."},
	{Name: ColDiscount,
		Aliases:     []string{"Discount %", "Discount Rate", "Discount Amount", "Disc %", "Disc"},
		Description: "Not imported: must be blank or 0. Fold a discount into unit_amount or line_amount."},
}

var paymentColumns = []Column{
	{Name: ColExternalID, Required: true,
		Aliases:     []string{"Payment ID", "Payment Number", "Payment No", "Receipt Number", "Receipt No", "Receipt ID", "Transaction ID", "Transaction Number", "Txn ID", "Bank Transaction ID", "Document Number", "Document No", "Num"},
		Description: "Your identifier of the payment, 1 to 128 characters. Rows with the same external_id are one payment allocated to several invoices. Importing it again changes nothing."},
	{Name: ColDirection, Required: true,
		Aliases:     []string{"Type", "Payment Direction", "Transaction Type", "Txn Type", "In/Out"},
		Description: "incoming (from a customer; also received, receipt, receive) or outgoing (to a vendor; also sent, paid, bill payment, spend)."},
	{Name: ColCounterpartyExternalID, Required: true,
		Aliases:     counterpartyRefAliases,
		Description: "The external_id of the customer or vendor."},
	{Name: ColAmount, Required: true,
		Aliases:     []string{"Payment Amount", "Amount Paid", "Amount Received", "Paid Amount", "Received Amount", "Total Amount", "Total"},
		Description: "The amount paid, greater than zero, in major units exact to the currency's minor unit."},
	{Name: ColCurrency, Required: true,
		Aliases:     append([]string{"Payment Currency"}, currencyAliases...),
		Description: "ISO 4217 code of the payment."},
	{Name: ColValueDate, Required: true,
		Aliases:     []string{"Payment Date", "Date", "Txn Date", "Transaction Date", "Paid Date", "Date Paid", "Paid On", "Received Date", "Date Received", "Settlement Date"},
		Description: "YYYY-MM-DD; in XLSX also a date cell."},
	{Name: ColMethod,
		Aliases:     []string{"Payment Method", "Pay Method", "Payment Mode", "Payment Means"},
		Description: "bank_transfer, card, cash, check, direct_debit or other (wire, ACH, SEPA, cheque, credit card and the like are understood)."},
	{Name: ColReference,
		Aliases:     []string{"Ref", "Ref No", "Ref Number", "Reference Number", "Payment Reference", "Bank Reference", "Memo", "Description", "Narrative", "Remittance Info", "Remittance Information", "Check Number", "Cheque Number"},
		Description: "The payment's reference, at most 500 characters."},
	{Name: ColInvoiceExternalID,
		Aliases:     []string{"Invoice Number", "Invoice No", "Invoice #", "Invoice ID", "Invoice Ref", "Bill Number", "Bill No", "Applied To", "Applied To Invoice"},
		Description: "The external_id of an invoice to allocate the payment to; one invoice per row, several rows per payment."},
	{Name: ColAllocatedAmount,
		Aliases:     []string{"Allocation Amount", "Amount Allocated", "Amount Applied", "Applied Amount", "Payment Applied", "Applied"},
		Description: "The amount allocated to invoice_external_id. Default: the whole payment, when the payment names one invoice."},
}

// Columns returns the columns of kind in the order they are documented, or nil for an
// unknown kind. The slice is a copy.
func Columns(kind Kind) []Column {
	var cols []Column
	switch kind {
	case Counterparties:
		cols = counterpartyColumns
	case Invoices:
		cols = invoiceColumns
	case Payments:
		cols = paymentColumns
	default:
		return nil
	}
	out := make([]Column, len(cols))
	for i, c := range cols {
		c.Aliases = append([]string(nil), c.Aliases...)
		out[i] = c
	}
	return out
}

// ColumnsMarkdown renders the columns of kind as a Markdown table (column, required,
// also accepted, meaning), for the README and the API description.
func ColumnsMarkdown(kind Kind) string {
	var b strings.Builder
	b.WriteString("| Column | Required | Also accepted | Meaning |\n|---|---|---|---|\n")
	for _, c := range Columns(kind) {
		req := ""
		if c.Required {
			req = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c.Name, req, mdEscape(strings.Join(c.Aliases, ", ")), mdEscape(c.Description))
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// normalizeHeader is the form headers are compared in (see Column).
func normalizeHeader(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case unicode.IsSpace(r), r == '_', r == '-', r == '.', r == '#', r == '*':
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// lookup maps normalised headers to canonical names, per kind.
var lookup = map[Kind]map[string]string{
	Counterparties: buildLookup(counterpartyColumns),
	Invoices:       buildLookup(invoiceColumns),
	Payments:       buildLookup(paymentColumns),
}

func buildLookup(cols []Column) map[string]string {
	m := map[string]string{}
	add := func(header, name string) {
		key := normalizeHeader(header)
		if prev, ok := m[key]; ok && prev != name {
			// A header that could mean two columns would make imports guess; the
			// tables above are code, so this fails the tests at once.
			panic(fmt.Sprintf("imports: header %q names both %s and %s", header, prev, name))
		}
		m[key] = name
	}
	for _, c := range cols {
		add(c.Name, c.Name)
		for _, a := range c.Aliases {
			add(a, c.Name)
		}
	}
	return m
}

// header is a file's header row resolved to canonical columns.
type header struct {
	// names[i] is the canonical column of cell i, or "" for a column not read.
	names   []string
	read    int // columns read
	ignored []string
}

// Header problems are refused together: a person fixing a file should see every
// problem with its header at once.
//
// Unknown headers are ignored and reported (Records.IgnoredColumns) rather than
// refused: ERP exports carry dozens of columns an import has no use for, and making
// people delete them first helps nobody. Blank headers are ignored silently.
func resolveHeader(kind Kind, cells []string) (*header, error) {
	table := lookup[kind]
	h := &header{names: make([]string, len(cells))}
	seen := map[string]int{} // canonical → first cell index
	dups := map[string][]string{}
	for i, cell := range cells {
		if cell == "" {
			continue
		}
		name, ok := table[normalizeHeader(cell)]
		if !ok {
			h.ignored = append(h.ignored, cell)
			continue
		}
		if first, ok := seen[name]; ok {
			if len(dups[name]) == 0 {
				dups[name] = append(dups[name], describeHeader(cells[first], first))
			}
			dups[name] = append(dups[name], describeHeader(cell, i))
			continue
		}
		seen[name] = i
		h.names[i] = name
		h.read++
	}
	fields := apperr.Fields{}
	var missing, duplicate []string
	for _, c := range Columns(kind) {
		if _, ok := seen[c.Name]; !ok && c.Required {
			missing = append(missing, c.Name)
			fields.Add(c.Name, "missing: a required column")
		}
		if d := dups[c.Name]; len(d) > 0 {
			duplicate = append(duplicate, c.Name+" ("+strings.Join(d, ", ")+")")
			fields.Add(c.Name, "given more than once: "+strings.Join(d, ", "))
		}
	}
	if kind == Invoices {
		_, unit := seen[ColUnitAmount]
		_, amount := seen[ColLineAmount]
		if !unit && !amount {
			missing = append(missing, ColUnitAmount+" or "+ColLineAmount)
			fields.Add(ColUnitAmount, "missing: one of unit_amount and line_amount is required")
		}
	}
	if len(fields) == 0 {
		return h, nil
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing required columns: "+strings.Join(missing, ", "))
	}
	if len(duplicate) > 0 {
		parts = append(parts, "columns given more than once: "+strings.Join(duplicate, "; "))
	}
	msg := "the header row does not fit an import of " + string(kind) + ": " + strings.Join(parts, "; ") +
		". The first non-blank row must be the header; see the documented columns and the names accepted for them"
	if len(h.ignored) > 0 {
		msg += " (headers not recognised: " + strings.Join(h.ignored, ", ") + ")"
	}
	return nil, &apperr.Error{Kind: apperr.Unprocessable, Code: CodeHeader, Message: msg, Fields: fields}
}

// describeHeader names a header cell as a person finds it in a spreadsheet: its text
// and its column letter.
func describeHeader(cell string, i int) string {
	return fmt.Sprintf("%q in column %s", cell, columnLetter(i))
}

// columnLetter is the spreadsheet name of the column with 0-based index i (A, Z, AA).
func columnLetter(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}
