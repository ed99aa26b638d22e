package imports

import (
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/payments"
)

func TestCounterparties(t *testing.T) {
	text := "Customer ID,Company Name,Type,E-mail,VAT Number,Currency,Terms\n" +
		"C1,Acme,customer,ap@acme.test,DE123,eur,Net 45\n" + // 2
		"C2,Globex,Supplier,,,,Due on receipt\n" + // 3
		"C3,Initech,customer and vendor,,,,\n" + // 4
		"C4,Umbrella,partner,not-an-email,,EURO,Net 400\n" + // 5
		"C1,Acme again,customer,,,,\n" + // 6
		",Nameless,customer,,,,\n" + // 7
		"C8," + strings.Repeat("n", 201) + ",vendor,,,,\n" + // 8
		"C9,Hooli,vendor,not-an-email,,,\n" // 9
	rec := read(t, Counterparties, text)
	require.Equal(t, []string{
		"5 kind invalid_choice", "5 default_currency invalid_currency", "5 payment_terms_days invalid_number",
		"6 external_id duplicate", "7 external_id missing_value", "8 name invalid_value", "9 email invalid_value",
	}, problems(rec))
	require.Equal(t, []counterparties.CreateInput{
		{ExternalID: ptr("C1"), Name: "Acme", Kind: counterparties.Customer, Email: ptr("ap@acme.test"), TaxID: ptr("DE123"),
			DefaultCurrency: ptr("EUR"), PaymentTermsDays: ptr(45)},
		{ExternalID: ptr("C2"), Name: "Globex", Kind: counterparties.Vendor, PaymentTermsDays: ptr(0)},
		{ExternalID: ptr("C3"), Name: "Initech", Kind: counterparties.Both},
	}, []counterparties.CreateInput{rec.Counterparties[0].Input, rec.Counterparties[1].Input, rec.Counterparties[2].Input})
	require.Contains(t, rec.Errors[3].Reason, "row 2")
	require.Equal(t, "must be a plain e-mail address", rec.Errors[6].Reason, "the API's own rule")
}

const invHeader = "external_id,direction,counterparty_external_id,currency,issue_date,due_date,status,memo,description,quantity,unit_amount,line_amount,tax_rate\n"

func TestInvoicesGroupRowsByExternalID(t *testing.T) {
	text := invHeader +
		"INV-1,receivable,C1,USD,2025-01-31,2025-03-02,open,March,Consulting,3,150,,20\n" + // 2
		"INV-2,payable,V1,EUR,2025-02-01,,,,Parts,2,10.005,,\n" + // 3
		"INV-1,,,,,,,,Travel,,,99.90,\n" + // 4: later, non-adjacent; blank invoice cells
		"INV-1,AR,C1,usd,2025-01-31,,,,Hotel,1,120.00,120,0%\n" // 5: repeated cells agree
	rec := read(t, Invoices, text)
	require.Empty(t, rec.Errors)
	require.Len(t, rec.Invoices, 2)
	inv := rec.Invoices[0]
	require.Equal(t, []int{2, 4, 5}, inv.Rows)
	require.Equal(t, "C1", inv.CounterpartyExternalID)
	require.Equal(t, invoices.CreateInput{
		Direction: invoices.Receivable, Currency: "USD", ExternalID: ptr("INV-1"),
		IssueDate: civil.Date{Year: 2025, Month: 1, Day: 31}, DueDate: &civil.Date{Year: 2025, Month: 3, Day: 2},
		Status: ptr(invoices.Open), Memo: ptr("March"),
		Lines: []invoices.LineInput{
			{Description: "Consulting", Quantity: "3", UnitAmountMinor: ptr(int64(15000)), TaxRate: ptr("20")},
			{Description: "Travel", Quantity: "1", UnitAmountMinor: ptr(int64(9990))},
			{Description: "Hotel", Quantity: "1", UnitAmountMinor: ptr(int64(12000)), TaxRate: ptr("0")},
		},
	}, inv.Input)
	require.Equal(t, uuid.Nil, inv.Input.CounterpartyID, "resolved when applied")
	bill := rec.Invoices[1].Input
	require.Equal(t, []int{3}, rec.Invoices[1].Rows)
	require.Equal(t, "10.005", *bill.Lines[0].UnitPrice, "a price below the minor unit stays a decimal")
	require.Nil(t, bill.Lines[0].UnitAmountMinor)
	require.Nil(t, bill.Status, "draft by default, as in the API")
}

func TestInvoicesRefusedWhole(t *testing.T) {
	text := invHeader +
		"INV-1,receivable,C1,USD,2025-01-31,,,,Consulting,3,150,,\n" + // 2
		"INV-1,receivable,C1,EUR,2025-01-31,,,,Travel,1,10,,\n" + // 3: another currency
		"INV-1,receivable,C1,USD,2025-01-31,,,,Hotel,1,10,,\n" + // 4
		"INV-2,receivable,C1,USD,2025-01-31,,,,Fine,1,10,,\n" // 5: unaffected
	rec := read(t, Invoices, text)
	require.Equal(t, []string{"2  not_imported", "3 currency conflicting_value", "4  not_imported"}, problems(rec))
	require.Equal(t, `"EUR" here, but "USD" on row 2 of the same invoice (external_id "INV-1")`, rec.Errors[1].Reason)
	require.Contains(t, rec.Errors[0].Reason, "row 3")
	require.Len(t, rec.Invoices, 1)
	require.Equal(t, "INV-2", *rec.Invoices[0].Input.ExternalID)
}

func TestInvoiceRows(t *testing.T) {
	for name, tc := range map[string]struct {
		row  string // the cells after external_id
		want []string
	}{
		"valid":                          {"receivable,C1,USD,2025-01-31,,,,Work,1,10,,", nil},
		"AP and a bill":                  {"AP,V1,USD,2025-01-31,,,,Work,1,10,,", nil},
		"direction unknown":              {"sideways,C1,USD,2025-01-31,,,,Work,1,10,,", []string{"2 direction invalid_choice"}},
		"required cells missing":         {",,,,,,,,1,10,,", []string{"2 direction missing_value", "2 counterparty_external_id missing_value", "2 currency missing_value", "2 issue_date missing_value", "2 description missing_value"}},
		"no amount":                      {"receivable,C1,USD,2025-01-31,,,,Work,1,,,", []string{"2 unit_amount missing_value"}},
		"thousands separators":           {"receivable,C1,USD,2025-01-31,,,,Work,1,\"1,234.56\",,", []string{"2 unit_amount invalid_amount"}},
		"a decimal comma":                {"receivable,C1,USD,2025-01-31,,,,Work,1,\"12,50\",,", []string{"2 unit_amount invalid_amount"}},
		"a currency symbol":              {"receivable,C1,USD,2025-01-31,,,,Work,1,$12.50,,", []string{"2 unit_amount invalid_amount"}},
		"a negative amount, not formula": {"receivable,C1,USD,2025-01-31,,,,Work,1,-12.50,,", []string{"2 unit_amount invalid_amount"}},
		"too many decimals for JPY":      {"receivable,C1,JPY,2025-01-31,,,,Work,1,,1000.5,", []string{"2 line_amount invalid_amount"}},
		"KWD has three":                  {"receivable,C1,KWD,2025-01-31,,,,Work,1,,1000.125,", nil},
		"trailing zeros are fine":        {"receivable,C1,USD,2025-01-31,,,,Work,1,,12.500,", nil},
		"zero quantity":                  {"receivable,C1,USD,2025-01-31,,,,Work,0,10,,", []string{"2 quantity invalid_number"}},
		"line amount for 2 units":        {"receivable,C1,USD,2025-01-31,,,,Work,2,,20,", []string{"2 quantity invalid_number"}},
		"line amount agrees":             {"receivable,C1,USD,2025-01-31,,,,Work,3,0.333,1.00,", nil},
		"line amount disagrees":          {"receivable,C1,USD,2025-01-31,,,,Work,3,0.333,0.99,", []string{"2 line_amount amount_mismatch"}},
		"tax rate over 100":              {"receivable,C1,USD,2025-01-31,,,,Work,1,10,,101", []string{"2 tax_rate invalid_number"}},
		"due before issue":               {"receivable,C1,USD,2025-01-31,2025-01-30,,,Work,1,10,,", []string{"2 due_date invalid_value"}},
		"a day-first date":               {"receivable,C1,USD,31/01/2025,,,,Work,1,10,,", []string{"2 issue_date invalid_date"}},
		"a date serial in CSV":           {"receivable,C1,USD,45688,,,,Work,1,10,,", []string{"2 issue_date invalid_date"}},
		"paid is not importable":         {"receivable,C1,USD,2025-01-31,,paid,,Work,1,10,,", []string{"2 status invalid_choice"}},
		"approved is open":               {"receivable,C1,USD,2025-01-31,,Approved,,Work,1,10,,", nil},
		"a long description":             {"receivable,C1,USD,2025-01-31,,,," + strings.Repeat("d", 501) + ",1,10,,", []string{"2 description invalid_value"}},
		"a long memo":                    {"receivable,C1,USD,2025-01-31,,," + strings.Repeat("m", 2001) + ",Work,1,10,,", []string{"2 memo invalid_value"}},
		"an unknown currency":            {"receivable,C1,XAU,2025-01-31,,,,Work,1,10,,", []string{"2 currency invalid_currency"}},
		"too large":                      {"receivable,C1,USD,2025-01-31,,,,Work,1000000,99999999999999.99,,", []string{"2 unit_amount invalid_value"}},
	} {
		t.Run(name, func(t *testing.T) {
			rec := read(t, Invoices, invHeader+"INV-1,"+tc.row+"\n")
			require.Equal(t, tc.want, nilIfEmpty(problems(rec)))
			require.Equal(t, len(tc.want) == 0, len(rec.Invoices) == 1)
		})
	}
	long := read(t, Invoices, invHeader+strings.Repeat("x", 129)+",receivable,C1,USD,2025-01-31,,,,Work,1,10,,\n")
	require.Equal(t, []string{"2 external_id invalid_value"}, problems(long))
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestInvoiceTaxAndDiscountGuards(t *testing.T) {
	header := "external_id,direction,counterparty_external_id,currency,issue_date,description,unit_amount,tax_rate,tax_amount,discount\n"
	rec := read(t, Invoices, header+
		"A,AR,C1,USD,2025-01-31,Work,100,20,20.00,0\n"+ // 2: tax amount with its rate; zero discount
		"B,AR,C1,USD,2025-01-31,Work,100,,0.00,0%\n"+ // 3: zero tax, zero discount
		"C,AR,C1,USD,2025-01-31,Work,100,,20.00,\n"+ // 4: tax would be lost
		"D,AR,C1,USD,2025-01-31,Work,100,,,10%\n") // 5: a discount
	require.Equal(t, []string{"4 tax_amount unsupported_value", "5 discount unsupported_value"}, problems(rec))
	require.Len(t, rec.Invoices, 2)
}

func TestInvoiceLineLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(invHeader)
	for i := range invoices.MaxLines + 2 {
		fmt.Fprintf(&b, "BIG,receivable,C1,USD,2025-01-31,,,,Line %d,1,1,,\n", i)
	}
	b.WriteString("SMALL,receivable,C1,USD,2025-01-31,,,,Line,1,1,,\n")
	rec := read(t, Invoices, b.String())
	require.Len(t, rec.Invoices, 1)
	require.Equal(t, "SMALL", *rec.Invoices[0].Input.ExternalID)
	require.Equal(t, RowError{Row: invoices.MaxLines + 2, Code: CodeTooManyLines,
		Reason: `invoice "BIG" has more than 500 lines; split it`}, rec.Errors[invoices.MaxLines])
	require.Len(t, rec.Errors, invoices.MaxLines+2)

	full := read(t, Invoices, invHeader+strings.Repeat("FULL,receivable,C1,USD,2025-01-31,,,,Line,1,1,,\n", invoices.MaxLines))
	require.Len(t, full.Invoices[0].Input.Lines, invoices.MaxLines)
}

const payHeader = "external_id,direction,counterparty_external_id,amount,currency,value_date,method,reference,invoice_external_id,allocated_amount\n"

func TestPayments(t *testing.T) {
	text := payHeader +
		"P1,incoming,C1,100.00,USD,2025-02-01,Wire,INV-1 INV-2,INV-1,60\n" + // 2
		"P2,outgoing,V1,250,EUR,2025-02-02,cheque,,,\n" + // 3
		"P1,,,100,,,,,INV-2,40.00\n" + // 4: the same payment, a second allocation
		"P3,Received,C1,75,USD,2025-02-03,,,INV-9,\n" // 5: one invoice, the whole payment
	rec := read(t, Payments, text)
	require.Empty(t, rec.Errors)
	require.Equal(t, []PaymentRecord{
		{Rows: []int{2, 4}, CounterpartyExternalID: "C1", Input: payments.CreateInput{
			Direction: payments.Incoming, AmountMinor: 10000, Currency: "USD", ValueDate: civil.Date{Year: 2025, Month: 2, Day: 1},
			Method: ptr("bank_transfer"), Reference: ptr("INV-1 INV-2"), ExternalID: ptr("P1")},
			Allocations: []AllocationRecord{{InvoiceExternalID: "INV-1", AmountMinor: 6000}, {InvoiceExternalID: "INV-2", AmountMinor: 4000}}},
		{Rows: []int{3}, CounterpartyExternalID: "V1", Input: payments.CreateInput{
			Direction: payments.Outgoing, AmountMinor: 25000, Currency: "EUR", ValueDate: civil.Date{Year: 2025, Month: 2, Day: 2},
			Method: ptr("check"), ExternalID: ptr("P2")}},
		{Rows: []int{5}, CounterpartyExternalID: "C1", Input: payments.CreateInput{
			Direction: payments.Incoming, AmountMinor: 7500, Currency: "USD", ValueDate: civil.Date{Year: 2025, Month: 2, Day: 3},
			ExternalID: ptr("P3")},
			Allocations: []AllocationRecord{{InvoiceExternalID: "INV-9", AmountMinor: 7500}}},
	}, rec.Payments)
}

func TestPaymentRows(t *testing.T) {
	for name, tc := range map[string]struct {
		rows string
		want []string
	}{
		"negative amount":          {"P,incoming,C1,-5,USD,2025-02-01,,,,\n", []string{"2 amount invalid_amount"}},
		"zero amount":              {"P,incoming,C1,0,USD,2025-02-01,,,,\n", []string{"2 amount invalid_amount"}},
		"amount disagrees":         {"P,incoming,C1,100,USD,2025-02-01,,,A,50\nP,incoming,C1,90,USD,2025-02-01,,,B,40\n", []string{"2  not_imported", "3 amount conflicting_value"}},
		"unknown method":           {"P,incoming,C1,100,USD,2025-02-01,barter,,,\n", []string{"2 method invalid_choice"}},
		"allocation, no invoice":   {"P,incoming,C1,100,USD,2025-02-01,,,,50\n", []string{"2 invoice_external_id missing_value"}},
		"several, no amount":       {"P,incoming,C1,100,USD,2025-02-01,,,A,\nP,,,,,,,,B,50\n", []string{"2 allocated_amount missing_value", "3  not_imported"}},
		"one invoice twice":        {"P,incoming,C1,100,USD,2025-02-01,,,A,50\nP,,,,,,,,A,10\n", []string{"2  not_imported", "3 invoice_external_id duplicate"}},
		"over-allocated":           {"P,incoming,C1,100,USD,2025-02-01,,,A,60\nP,,,,,,,,B,50\n", []string{"2  not_imported", "3 allocated_amount allocation_exceeds_amount"}},
		"allocation too precise":   {"P,incoming,C1,100,USD,2025-02-01,,,A,0.001\n", []string{"2 allocated_amount invalid_amount"}},
		"allocation of zero":       {"P,incoming,C1,100,USD,2025-02-01,,,A,0\n", []string{"2 allocated_amount invalid_amount"}},
		"required cells missing":   {"P,,,,,,,,,\n", []string{"2 direction missing_value", "2 counterparty_external_id missing_value", "2 amount missing_value", "2 currency missing_value", "2 value_date missing_value"}},
		"a long reference":         {"P,incoming,C1,100,USD,2025-02-01,," + strings.Repeat("r", 501) + ",,\n", []string{"2 reference invalid_value"}},
		"100 and 100.00 agree":     {"P,incoming,C1,100,USD,2025-02-01,,,A,1\nP,incoming,C1,100.00,USD,2025-02-01,,,B,1\n", nil},
		"interleaved with another": {"P,incoming,C1,100,USD,2025-02-01,,,A,1\nQ,incoming,C1,5,USD,2025-02-01,,,,\nP,,,,,,,,B,1\n", nil},
	} {
		t.Run(name, func(t *testing.T) {
			rec := read(t, Payments, payHeader+tc.rows)
			require.Equal(t, tc.want, nilIfEmpty(problems(rec)))
		})
	}
	var b strings.Builder
	b.WriteString(payHeader)
	for i := range payments.MaxAllocations + 1 {
		fmt.Fprintf(&b, "P,incoming,C1,1000,USD,2025-02-01,,,INV-%d,1\n", i)
	}
	rec := read(t, Payments, b.String())
	require.Equal(t, CodeTooMany, rec.Errors[len(rec.Errors)-1].Code)
	require.Empty(t, rec.Payments)
}

func TestParseNumber(t *testing.T) {
	csv, xlsx := source{}, source{xlsx: true}
	for _, tc := range []struct {
		in   string
		src  source
		want string // the canonical decimal, or the start of the reason
	}{
		{"1234.56", csv, "1234.56"},
		{"007.50", csv, "7.5"},
		{"-0.5", csv, "-0.5"},
		{"1234.5600000000001", csv, `"1234.5600000000001" is not a number`}, // 13 decimals: CSV is taken as written
		{"1234.5600000000001", xlsx, "1234.56"},
		{"0.30000000000000004", xlsx, "0.3"},
		{"2.9999999999999996", xlsx, "3"},
		{"-1234.5649999999999", xlsx, "-1234.565"},
		{"1E-3", xlsx, "0.001"},
		{"1.0000000000000001E-3", xlsx, "0.001"},
		{"1.5E+4", xlsx, "15000"},
		{"1.234E2", xlsx, "123.4"},
		{"123456789012345678", xlsx, `"123456789012345678" has more than 15 digits`},
		{"1,234.56", csv, `"1,234.56": write numbers without thousands separators`},
		{"1 234.56", csv, `"1 234.56": write numbers without thousands separators`},
		{"1'234.56", xlsx, `"1'234.56": write numbers without thousands separators`},
		{"12,50", csv, `"12,50": use a point as the decimal separator`},
		{"(12.50)", csv, `"(12.50)": negative numbers`},
		{"+12.50", csv, `"+12.50": write numbers without a plus sign`},
		{"1E3", csv, `"1E3": write the number out in full`},
		{"€12.50", csv, `"€12.50": write a plain number`},
		{"12.50 USD", csv, `"12.50 USD": write a plain number`},
		{".5", csv, `".5" is not a number`},
		{"#DIV/0!", xlsx, `"#DIV/0!": write a plain number`},
	} {
		d, p := parseNumber(tc.in, tc.src)
		if p != nil {
			require.True(t, strings.HasPrefix(p.reason, tc.want), "%q: %s", tc.in, p.reason)
			require.Equal(t, CodeInvalidNumber, p.code)
			continue
		}
		require.Equal(t, tc.want, d.String(), "%q", tc.in)
	}
}

func TestRoundSignificant(t *testing.T) {
	for in, want := range map[string]string{
		"1234.56":                "1234.56",
		"0.1":                    "0.1",
		"999999999999999.5":      "999999999999999.5", // not a plain decimal past 15 integer digits: refused by the caller
		"9.9999999999999999":     "10",
		"0.00012345678901234567": "0.000123456789012346",
		"-0.30000000000000004":   "-0.3",
		"abc":                    "abc",
		"1.2.3":                  "1.2.3",
	} {
		got, ok := roundSignificant(in, 15)
		if in == "999999999999999.5" {
			require.True(t, ok)
			require.Equal(t, "1000000000000000", got, "rounding may carry into a new digit")
			continue
		}
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	_, ok := roundSignificant("1234567890123456.7", 15)
	require.False(t, ok)
}

func TestParseDate(t *testing.T) {
	csv, xlsx, mac := source{}, source{xlsx: true}, source{xlsx: true, date1904: true}
	for _, tc := range []struct {
		in   string
		src  source
		want string
	}{
		{"2025-01-31", csv, "2025-01-31"},
		{"2024-02-29", csv, "2024-02-29"},
		{"2025-01-31T00:00:00", csv, "2025-01-31"},
		{"2025-01-31 00:00", csv, "2025-01-31"},
		{"2025-01-31T00:00:00.000Z", csv, "2025-01-31"},
		{"2025-01-31T00:00:00+00:00", csv, "2025-01-31"},
		{"45688", xlsx, "2025-01-31"},
		{"45688.999988", xlsx, "2025-01-31"},
		{"0", mac, "1904-01-01"},
		{"44226", mac, "2025-01-31"},
		{"61", xlsx, "1900-03-01"},
		{"2958465", xlsx, "9999-12-31"},
	} {
		d, p := parseDate(tc.in, tc.src)
		require.Nil(t, p, "%q", tc.in)
		require.Equal(t, tc.want, d.String(), "%q", tc.in)
	}
	for _, tc := range []struct {
		in  string
		src source
	}{
		{"2025-02-30", csv}, {"2025-1-31", csv}, {"31/01/2025", csv}, {"01/31/2025", xlsx}, {"31.01.2025", csv},
		{"2025-01-31T13:00:00", csv}, {"2025-01-31Z", csv}, {"45688", csv}, {"60", xlsx}, {"2958466", xlsx},
		{"-1", xlsx}, {"Jan 31, 2025", csv}, {"20250131", csv},
	} {
		_, p := parseDate(tc.in, tc.src)
		require.NotNil(t, p, "%q", tc.in)
		require.Equal(t, CodeInvalidDate, p.code)
	}
	_, p := parseDate("31/01/2025", csv)
	require.Contains(t, p.reason, "YYYY-MM-DD")
	_, p = parseDate("45688", csv)
	require.Contains(t, p.reason, "Excel date serial")
}

func TestParseRate(t *testing.T) {
	csv, xlsx := source{}, source{xlsx: true}
	for _, tc := range []struct {
		in   string
		src  source
		want string
	}{
		{"20", csv, "20"}, {"20%", csv, "20"}, {"20 %", csv, "20"}, {"5.5", xlsx, "5.5"}, {"0", xlsx, "0"},
		{"0.2", csv, "0.2"}, {"0.25%", xlsx, "0.25"}, {"100", csv, "100"}, {"7.654321", csv, "7.654321"},
		{"5.5000000000000004", xlsx, "5.5"},
	} {
		d, p := parseRate(tc.in, tc.src)
		require.Nil(t, p, "%q", tc.in)
		require.Equal(t, tc.want, d.String())
	}
	for _, tc := range []struct {
		in  string
		src source
	}{
		{"0.2", xlsx}, {"100.5", csv}, {"-1", csv}, {"7.6543211", csv}, {"twenty", csv}, {"%", csv},
	} {
		_, p := parseRate(tc.in, tc.src)
		require.NotNil(t, p, "%q", tc.in)
	}
}

func TestParseDays(t *testing.T) {
	for in, want := range map[string]int{"30": 30, "0": 0, "Net 30": 30, "NET30": 30, "n45": 45, "60 days": 60, "1 day": 1, "Due on receipt": 0, "365": 365} {
		got, p := parseDays(in)
		require.Nil(t, p, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"366", "-1", "thirty", "30.5", "Net 30 EOM", "2/10 Net 30"} {
		_, p := parseDays(in)
		require.NotNil(t, p, in)
	}
}

func TestChoices(t *testing.T) {
	for in, want := range map[string]string{"AR": "receivable", "a/r": "receivable", "Sales Invoice": "receivable", "ACCPAY": "payable", "Vendor Bill": "payable", "PI": "payable"} {
		got, p := invoiceDirections.parse(in)
		require.Nil(t, p, in)
		require.Equal(t, want, got, in)
	}
	for in, want := range map[string]string{"Bank Transfer": "bank_transfer", "ACH": "bank_transfer", "direct-debit": "direct_debit", "Credit Card": "card", "CHEQUE": "check"} {
		got, p := paymentMethods.parse(in)
		require.Nil(t, p, in)
		require.Equal(t, want, got, in)
	}
	for _, m := range payments.Methods {
		got, p := paymentMethods.parse(m)
		require.Nil(t, p)
		require.Equal(t, m, got, "every method the API takes")
	}
	_, p := invoiceDirections.parse("credit note")
	require.Equal(t, `"credit note" is not one of receivable or payable`, p.reason)
}

func TestToMinor(t *testing.T) {
	for _, tc := range []struct {
		in, currency string
		want         int64
		reason       string
	}{
		{"12.5", "USD", 1250, ""},
		{"1000", "JPY", 1000, ""},
		{"1.234", "KWD", 1234, ""},
		{"0.0001", "CLF", 1, ""},
		{"12.345", "USD", 0, "USD amounts have at most 2 decimals; 12.345 has 3"},
		{"1.5", "JPY", 0, "JPY amounts have no decimals; 1.5 has 1"},
		{"999999999999999999", "USD", 0, "999999999999999999 is too large an amount"},
	} {
		d, p := parseNumber(tc.in, source{})
		require.Nil(t, p)
		got, p := toMinor(d, tc.currency)
		if tc.reason != "" {
			require.Equal(t, tc.reason, p.reason)
			continue
		}
		require.Nil(t, p)
		require.Equal(t, tc.want, got)
	}
}

func TestQuoteClipsLongValues(t *testing.T) {
	require.Equal(t, `"abc"`, quote("abc"))
	require.Equal(t, `"`+strings.Repeat("é", 40)+`…"`, quote(strings.Repeat("é", 100)))
}
