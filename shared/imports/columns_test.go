package imports

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

var kinds = []Kind{Counterparties, Invoices, Payments}

// Every header means one column of a kind; the lookup tables would panic otherwise.
func TestColumnsAreUnambiguous(t *testing.T) {
	for _, k := range kinds {
		require.NotPanics(t, func() { buildLookup(Columns(k)) }, k)
		for _, c := range Columns(k) {
			require.NotEmpty(t, c.Description, "%s.%s", k, c.Name)
			require.Equal(t, c.Name, lookup[k][normalizeHeader(c.Name)])
			for _, a := range c.Aliases {
				require.Equal(t, c.Name, lookup[k][normalizeHeader(a)], "%s: %q", k, a)
			}
		}
	}
	require.Nil(t, Columns("ledgers"))
	cols := Columns(Invoices)
	cols[0].Aliases[0] = "changed"
	require.NotEqual(t, "changed", Columns(Invoices)[0].Aliases[0], "Columns returns a copy")
}

func TestHeaderNormalisation(t *testing.T) {
	for _, h := range []string{"external_id", "External ID", "EXTERNAL-ID", "Invoice No.", "invoice_no", "InvoiceNo", " Invoice # ", "*InvoiceNumber", "invoice\u00a0number"} {
		require.Equal(t, ColExternalID, lookup[Invoices][normalizeHeader(h)], "%q", h)
	}
	require.Equal(t, ColTaxRate, lookup[Invoices][normalizeHeader("Tax %")])
	require.Equal(t, ColExternalID, lookup[Counterparties][normalizeHeader("A/C")], "Sage")
}

// Headers of common ERP exports resolve to the columns they hold.
func TestERPHeaders(t *testing.T) {
	for name, tc := range map[string]struct {
		kind    Kind
		headers string
		want    map[string]string // header → column
	}{
		"QuickBooks invoice import": {Invoices,
			"InvoiceNo,Customer,InvoiceDate,DueDate,Terms,Memo,Item(Product/Service),ItemDescription,ItemQuantity,ItemRate,ItemAmount,TaxRate",
			map[string]string{"InvoiceNo": ColExternalID, "InvoiceDate": ColIssueDate, "DueDate": ColDueDate, "Memo": ColMemo,
				"ItemDescription": ColDescription, "ItemQuantity": ColQuantity, "ItemRate": ColUnitAmount, "ItemAmount": ColLineAmount, "TaxRate": ColTaxRate}},
		"Xero invoice export": {Invoices,
			"*ContactName,EmailAddress,*InvoiceNumber,Reference,*InvoiceDate,*DueDate,Total,TaxTotal,InventoryItemCode,*Description,*Quantity,*UnitAmount,Discount,LineAmount,*AccountCode,*TaxType,TaxAmount,Currency,Type,Status",
			map[string]string{"*InvoiceNumber": ColExternalID, "*InvoiceDate": ColIssueDate, "*DueDate": ColDueDate, "*Description": ColDescription,
				"*Quantity": ColQuantity, "*UnitAmount": ColUnitAmount, "Discount": ColDiscount, "LineAmount": ColLineAmount, "TaxAmount": ColTaxAmount,
				"Currency": ColCurrency, "Type": ColDirection, "Status": ColStatus}},
		"Sage 50 audit trail": {Invoices,
			"Type,Account Reference,Nominal A/C Ref,Date,Reference,Details,Net Amount,Tax Code,Tax Amount",
			map[string]string{"Type": ColDirection, "Account Reference": ColCounterpartyExternalID, "Date": ColIssueDate, "Details": ColDescription,
				"Net Amount": ColLineAmount, "Tax Amount": ColTaxAmount}},
		"SAP billing documents": {Invoices,
			"Billing Document,Billing Date,Sold-To Party,Net Value,Document Currency,Net Due Date",
			map[string]string{"Billing Document": ColExternalID, "Billing Date": ColIssueDate, "Sold-To Party": ColCounterpartyExternalID,
				"Net Value": ColLineAmount, "Document Currency": ColCurrency, "Net Due Date": ColDueDate}},
		"NetSuite customers": {Counterparties,
			"Internal ID,Company Name,Email,Tax Number,Currency,Terms",
			map[string]string{"Internal ID": ColExternalID, "Company Name": ColName, "Email": ColEmail, "Tax Number": ColTaxID,
				"Currency": ColDefaultCurrency, "Terms": ColPaymentTermsDays}},
		"QuickBooks payments": {Payments,
			"Num,Customer ID,Payment Date,Payment Method,Ref No,Amount,Currency Code,Invoice No,Amount Applied",
			map[string]string{"Num": ColExternalID, "Customer ID": ColCounterpartyExternalID, "Payment Date": ColValueDate,
				"Payment Method": ColMethod, "Ref No": ColReference, "Amount": ColAmount, "Currency Code": ColCurrency,
				"Invoice No": ColInvoiceExternalID, "Amount Applied": ColAllocatedAmount}},
	} {
		t.Run(name, func(t *testing.T) {
			cells := strings.Split(tc.headers, ",")
			_, err := resolveHeader(tc.kind, cells)
			var h *header
			if err != nil {
				// Exports lack some required columns; what they have must not clash.
				require.NotContains(t, err.Error(), "more than once")
				h = &header{names: make([]string, len(cells))}
				for i, c := range cells {
					h.names[i] = lookup[tc.kind][normalizeHeader(c)]
				}
			} else {
				h, _ = resolveHeader(tc.kind, cells)
			}
			for i, c := range cells {
				require.Equal(t, tc.want[c], h.names[i], "%q", c)
			}
		})
	}
}

func TestResolveHeader(t *testing.T) {
	h, err := resolveHeader(Counterparties, []string{"Customer ID", "", "Name", "Type", "Phone", "Fax"})
	require.NoError(t, err)
	require.Equal(t, []string{ColExternalID, "", ColName, ColKind, "", ""}, h.names)
	require.Equal(t, []string{"Phone", "Fax"}, h.ignored)

	_, err = resolveHeader(Invoices, []string{"Invoice Number", "external_id", "Date", "Invoice Date", "Invoice Date", "Description", "Colour"})
	e := refused(t, err, apperr.Unprocessable, CodeHeader)
	for _, want := range []string{
		"missing required columns: direction, counterparty_external_id, currency, unit_amount or line_amount",
		`external_id ("Invoice Number" in column A, "external_id" in column B)`,
		`issue_date ("Date" in column C, "Invoice Date" in column D, "Invoice Date" in column E)`,
		"headers not recognised: Colour",
	} {
		require.Contains(t, e.Message, want)
	}
	require.Equal(t, []string{ColCounterpartyExternalID, ColCurrency, ColDirection, ColExternalID, ColIssueDate, ColUnitAmount}, sortedKeys(e.Fields))
}

// Unknown columns are read past and reported, end to end.
func TestReadReportsIgnoredColumns(t *testing.T) {
	rec := read(t, Counterparties, "Customer ID,Name,Type,Phone,Notes\nC1,Acme,customer,555,friendly\n")
	require.Equal(t, []string{"Phone", "Notes"}, rec.IgnoredColumns)
	require.Equal(t, map[string]string{"external_id": "C1", "name": "Acme", "kind": "customer"}, rec.Cells[2])

	_, err := Read(strings.NewReader("Title: customers, March\nC1,Acme,customer\n"), tabular.CSV, Counterparties, Limits{})
	e := refused(t, err, apperr.Unprocessable, CodeHeader)
	require.Contains(t, e.Message, "first non-blank row must be the header")
}

func TestColumnsMarkdown(t *testing.T) {
	md := ColumnsMarkdown(Payments)
	lines := strings.Split(strings.TrimSpace(md), "\n")
	require.Len(t, lines, 2+len(Columns(Payments)))
	require.Equal(t, "| Column | Required | Also accepted | Meaning |", lines[0])
	require.True(t, strings.HasPrefix(lines[2], "| `external_id` | yes | Payment ID, "), lines[2])
	require.Contains(t, ColumnsMarkdown(Invoices), `AR/AP`, "aliases are listed")
	require.NotContains(t, strings.ReplaceAll(ColumnsMarkdown(Invoices), `\|`, ""), "||")
}

func TestColumnLetter(t *testing.T) {
	for i, want := range map[int]string{0: "A", 25: "Z", 26: "AA", 51: "AZ", 701: "ZZ", 702: "AAA", 16383: "XFD"} {
		require.Equal(t, want, columnLetter(i))
	}
}
