package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/forecast"
)

func ptr[T any](v T) *T { return &v }

func date(s string) civil.Date {
	d, err := civil.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestParseAmount(t *testing.T) {
	cases := []struct {
		in   string
		exp  int
		want int64
	}{
		{"1,234.56", 2, 123456},
		{"1.234,56", 2, 123456},
		{"£86.00", 2, 8600},
		{"1'234.50", 2, 123450},
		{"1,500", 2, 150000},
		{"1.500", 2, 150000},
		{"1.500", 3, 1500},
		{"12,5", 2, 1250},
		{"0.125", 2, 12},
		{"0.135", 2, 14},
		{"5000", 0, 5000},
		{"1.234.567,89", 2, 123456789},
		{"EUR 42", 2, 4200},
	}
	for _, c := range cases {
		got, ok := parseAmount(c.in, c.exp)
		require.True(t, ok, c.in)
		require.Equal(t, c.want, got, "%s with %d decimals", c.in, c.exp)
	}
	_, ok := parseAmount("n/a", 2)
	require.False(t, ok)
}

func TestParseDate(t *testing.T) {
	cases := []struct {
		in        string
		mdy       bool
		want      string
		ambiguous bool
	}{
		{"2026-03-15", false, "2026-03-15", false},
		{"15/03/2026", true, "2026-03-15", false},
		{"03/15/2026", false, "2026-03-15", false},
		{"03/04/2026", true, "2026-03-04", true},
		{"03/04/2026", false, "2026-04-03", true},
		{"03.04.2026", true, "2026-04-03", false},
		{"15 March 2026", false, "2026-03-15", false},
		{"15-Mar-2026", false, "2026-03-15", false},
		{"March 15, 2026", false, "2026-03-15", false},
		{"Mar 1st 2026", false, "2026-03-01", false},
		{"1 Sept 2026", false, "2026-09-01", false},
		{"15/03/26", false, "2026-03-15", false},
	}
	for _, c := range cases {
		got, amb, ok := parseDateAt(c.in, c.mdy)
		require.True(t, ok, c.in)
		require.Equal(t, c.want, got.String(), c.in)
		require.Equal(t, c.ambiguous, amb, c.in)
	}
	for _, bad := range []string{"31/02/2026", "2026-13-01", "Smarch 3, 2026", "12345"} {
		_, _, ok := parseDateAt(bad, false)
		require.False(t, ok, bad)
	}
}

var (
	acmeID    = uuid.MustParse("0190f3a8-0000-7000-8000-000000000001")
	globexID  = uuid.MustParse("0190f3a8-0000-7000-8000-000000000002")
	initechID = uuid.MustParse("0190f3a8-0000-7000-8000-000000000003")
	vendors   = []VendorOption{
		{ID: acmeID, Name: "Acme Office Supplies Limited", TaxID: ptr("GB123456789")},
		{ID: globexID, Name: "Globex Corporation", TaxID: ptr("98-7654321")},
		{ID: initechID, Name: "Initech GmbH"},
	}
)

// ukBill is a British supplier's bill: a table of lines, VAT, both parties' VAT
// numbers, day-first dates.
const ukBill = `ACME Office Supplies Ltd
12 Market Street, London EC1A 1BB
VAT No: GB 123 4567 89

TAX INVOICE
Invoice No: INV-2026-0042
Invoice Date: 03/03/2026
Due Date: 02/04/2026

Bill To:
Ledgerline Test Co
VAT No: GB 999 9999 99

Description            Qty    Unit Price    Amount
A4 paper, 5 reams        4        £21.50     £86.00
Toner cartridge          2        £64.99    £129.98

Subtotal                                   £215.98
VAT 20%                                     £43.20
Total due                                  £259.18

Payment terms: 30 days`

// usBill is an American vendor's bill: "qty x price" lines, month-first dates,
// net terms and no due date.
const usBill = `Globex Corporation
EIN: 98-7654321
Invoice # GX-88412
Date: March 5, 2026
Terms: Net 30

Bill to: Ledgerline Test Co, 1 Main St, Springfield

Cloud hosting (March) 1 x $1,200.00 $1,200.00
Support hours 12.5 @ $95.00 $1,187.50
2 x SSL certificate @ 49.00 98.00

Total: USD 2,485.50`

// germanBill is a German bill: decimal commas, EUR after the amounts, dotted dates,
// no tax id of the vendor but a name the tenant knows.
const germanBill = `Rechnung / Invoice
From: Initech GmbH
Invoice number: R-2026-117
Invoice date: 10.02.2026
Due date: 24.02.2026

Wartungsvertrag Februar 1 x 450,00 EUR 450,00 EUR
Vor-Ort-Einsatz 3 x 120,00 EUR 360,00 EUR

Zwischensumme 810,00 EUR
MwSt 19% 153,90 EUR
Gesamtbetrag / Total 963,90 EUR`

// looseBill has no lines, only a total, and an unknown vendor.
const looseBill = `Northwind Couriers
Courier services for February 2026
Invoice date 2026-02-28
Amount due: 1.250,00 €`

func TestExtractBill(t *testing.T) {
	t.Run("uk table with vat", func(t *testing.T) {
		got, err := extractBill(APExtractInput{Text: ukBill, Vendors: vendors})
		require.NoError(t, err)
		require.Equal(t, "ACME Office Supplies Ltd", got.Vendor.Name)
		require.Equal(t, "GB 123 4567 89", *got.Vendor.TaxID)
		require.Equal(t, acmeID, *got.Vendor.MatchedID, "matched by tax id, whatever the formatting")
		require.Equal(t, "INV-2026-0042", *got.Number)
		require.Equal(t, date("2026-03-03"), got.IssueDate)
		require.Equal(t, date("2026-04-02"), *got.DueDate, "day first outside the US")
		require.Equal(t, "GBP", got.Currency)
		require.Equal(t, []ExtractedLine{
			{Description: "A4 paper, 5 reams", Quantity: "4", UnitAmountMinor: 2150, TaxRate: ptr("20")},
			{Description: "Toner cartridge", Quantity: "2", UnitAmountMinor: 6499, TaxRate: ptr("20")},
		}, got.Lines)
		require.Equal(t, int64(25918), got.TotalMinor)
		total, err := got.LinesTotalMinor()
		require.NoError(t, err)
		require.Equal(t, got.TotalMinor, total, "the lines add up to the stated total")
		require.Equal(t, 0.95, got.Confidence["total_minor"])
		require.Less(t, got.Confidence["due_date"], 0.9, "02/04 could be read either way")
	})
	t.Run("us qty x price", func(t *testing.T) {
		got, err := extractBill(APExtractInput{Text: usBill, Vendors: vendors})
		require.NoError(t, err)
		require.Equal(t, globexID, *got.Vendor.MatchedID)
		require.Equal(t, "GX-88412", *got.Number)
		require.Equal(t, date("2026-03-05"), got.IssueDate)
		require.Equal(t, date("2026-04-04"), *got.DueDate, "net 30 from the issue date")
		require.Equal(t, "USD", got.Currency)
		require.Equal(t, []ExtractedLine{
			{Description: "Cloud hosting (March)", Quantity: "1", UnitAmountMinor: 120000},
			{Description: "Support hours", Quantity: "12.5", UnitAmountMinor: 9500},
			{Description: "SSL certificate", Quantity: "2", UnitAmountMinor: 4900},
		}, got.Lines)
		require.Equal(t, int64(248550), got.TotalMinor)
		require.Equal(t, 0.85, got.Confidence["lines"], "every printed amount is quantity times price")
	})
	t.Run("german decimal commas", func(t *testing.T) {
		got, err := extractBill(APExtractInput{Text: germanBill, Vendors: vendors})
		require.NoError(t, err)
		require.Equal(t, "Initech GmbH", got.Vendor.Name)
		require.Equal(t, initechID, *got.Vendor.MatchedID, "matched by name")
		require.Nil(t, got.Vendor.TaxID)
		require.Equal(t, "R-2026-117", *got.Number)
		require.Equal(t, date("2026-02-10"), got.IssueDate)
		require.Equal(t, date("2026-02-24"), *got.DueDate)
		require.Equal(t, "EUR", got.Currency)
		require.Len(t, got.Lines, 2)
		require.Equal(t, int64(45000), got.Lines[0].UnitAmountMinor)
		require.Equal(t, "3", got.Lines[1].Quantity)
		require.Equal(t, ptr("19"), got.Lines[1].TaxRate)
		require.Equal(t, int64(96390), got.TotalMinor)
		require.Equal(t, 0.95, got.Confidence["total_minor"], "the stated total, which the lines add up to")
		require.Equal(t, 0.9, got.Confidence["issue_date"], "dotted dates are day first")
	})
	t.Run("total only, unknown vendor", func(t *testing.T) {
		got, err := extractBill(APExtractInput{Text: looseBill, Vendors: vendors, DefaultCurrency: "USD"})
		require.NoError(t, err)
		require.Equal(t, "Northwind Couriers", got.Vendor.Name)
		require.Nil(t, got.Vendor.MatchedID, "a new vendor")
		require.Nil(t, got.Number)
		require.Zero(t, got.Confidence["number"])
		require.Equal(t, "EUR", got.Currency, "the sign wins over the default")
		require.Equal(t, int64(125000), got.TotalMinor)
		require.Len(t, got.Lines, 1)
		require.Equal(t, 0.2, got.Confidence["lines"])
	})
	t.Run("no date at all", func(t *testing.T) {
		_, err := extractBill(APExtractInput{Text: "Some vendor\nTotal 10.00"})
		require.ErrorContains(t, err, "no date")
		got, err := extractBill(APExtractInput{Text: "Some vendor\nTotal 10.00", ReceivedOn: ptr(date("2026-05-01")), DefaultCurrency: "CAD"})
		require.NoError(t, err)
		require.Equal(t, date("2026-05-01"), got.IssueDate)
		require.Equal(t, "CAD", got.Currency)
		require.Equal(t, 0.3, got.Confidence["currency"])
	})
}

func TestMatchVendorAmbiguousNames(t *testing.T) {
	twins := []VendorOption{{ID: acmeID, Name: "Acme Inc"}, {ID: globexID, Name: "ACME, Inc."}}
	v, _ := matchVendor(twins, "Acme", nil)
	require.Nil(t, v, "a name two vendors share matches neither")
}

func TestStageFor(t *testing.T) {
	schedule := []int{7, 14, 30}
	for days, want := range map[int]string{0: "", 6: "", 7: StageReminder, 13: StageReminder, 14: StageFirm, 29: StageFirm, 30: StageFinal, 400: StageFinal} {
		require.Equal(t, want, StageFor(days, schedule), "%d days", days)
	}
	require.Equal(t, StageReminder, StageFor(50, []int{10}))
}

func arInput(stage string) ARCollectionsInput {
	median := 12.0
	return ARCollectionsInput{
		CounterpartyID: uuid.MustParse("0190f3a8-0000-7000-8000-0000000000c1"), CounterpartyName: "Umbrella Retail",
		Currency: "USD", OverdueMinor: 735000, OldestDaysLate: 41, Stage: stage, MedianDaysToPay: &median,
		Invoices: []OverdueInvoice{
			{ID: uuid.MustParse("0190f3a8-0000-7000-8000-0000000000a2"), Number: "INV-000118", DueDate: date("2026-04-20"), AmountDueMinor: 235000},
			{ID: uuid.MustParse("0190f3a8-0000-7000-8000-0000000000a1"), Number: "INV-000102", DueDate: date("2026-03-31"), AmountDueMinor: 500000},
		},
		History: []PaymentEvidence{{InvoiceNumber: "INV-000077", DueDate: date("2026-01-31"), PaidOn: date("2026-02-14"), DaysLate: 14}},
	}
}

func TestDraftCollection(t *testing.T) {
	for _, stage := range []string{StageReminder, StageFirm, StageFinal} {
		in := arInput(stage)
		got, err := draftCollection(in)
		require.NoError(t, err)
		require.Equal(t, stage, got.Stage)
		require.Equal(t, []uuid.UUID{in.Invoices[1].ID, in.Invoices[0].ID}, got.CitedInvoiceIDs, "oldest first")
		require.Contains(t, got.Body, "Invoice INV-000102, due 2026-03-31: USD 5000.00")
		require.Contains(t, got.Body, "Invoice INV-000118, due 2026-04-20: USD 2350.00")
		require.Contains(t, got.Body, "Total overdue: USD 7350.00.")
		require.Contains(t, got.Body, "Dear Umbrella Retail team")
		require.Empty(t, checkCollection(&in, &got))
	}
	reminder, _ := draftCollection(arInput(StageReminder))
	firm, _ := draftCollection(arInput(StageFirm))
	final, _ := draftCollection(arInput(StageFinal))
	require.True(t, strings.HasPrefix(reminder.Subject, "Friendly reminder"))
	require.True(t, strings.HasPrefix(firm.Subject, "Second notice"))
	require.True(t, strings.HasPrefix(final.Subject, "Final notice"))
	require.Contains(t, final.Body, "final notice")
	require.Contains(t, reminder.Body, "usually pay about 12 days after the due date")
}

// sampleForecast is a real report: two currencies, late-paying and prompt customers,
// a vendor, explained.
func sampleForecast(t *testing.T) forecast.Report {
	t.Helper()
	asOf := date("2026-06-01")
	umbrella, hooli, globex := uuid.New(), uuid.New(), uuid.New()
	in := forecast.Input{
		AsOf: asOf, Weeks: forecast.DefaultWeeks, Explain: true,
		History: forecast.History{
			Counterparties: map[forecast.Party]forecast.Delays{
				{Direction: forecast.Receivable, CounterpartyID: umbrella}: {Observations: 8, P10: 10, P50: 25, P90: 55},
				{Direction: forecast.Receivable, CounterpartyID: hooli}:    {Observations: 6, P10: -2, P50: 0, P90: 3},
			},
			Tenant: map[forecast.Direction]forecast.Delays{
				forecast.Receivable: {Observations: 14, P10: 0, P50: 7, P90: 40},
				forecast.Payable:    {Observations: 5, P10: -3, P50: 0, P90: 2},
			},
		},
		Open: []forecast.Open{
			{Direction: forecast.Receivable, Currency: "USD", CounterpartyID: umbrella, DueDate: asOf.AddDays(-10), AmountMinor: 1_250_000, Invoices: 2},
			{Direction: forecast.Receivable, Currency: "USD", CounterpartyID: hooli, DueDate: asOf.AddDays(20), AmountMinor: 480_000, Invoices: 1},
			{Direction: forecast.Payable, Currency: "USD", CounterpartyID: globex, DueDate: asOf.AddDays(3), AmountMinor: 2_100_000, Invoices: 3},
			{Direction: forecast.Receivable, Currency: "EUR", CounterpartyID: hooli, DueDate: asOf.AddDays(40), AmountMinor: 90_000, Invoices: 1},
		},
		Names: map[uuid.UUID]string{umbrella: "Umbrella Retail", hooli: "Hooli", globex: "Globex Corporation"},
	}
	return forecast.Compute(in)
}

func TestNarrateCitesOnlyTheForecastsAmounts(t *testing.T) {
	report := sampleForecast(t)
	raw, err := json.Marshal(report)
	require.NoError(t, err)
	var doc forecastDoc
	require.NoError(t, json.Unmarshal(raw, &doc))
	n := narrate(doc)

	require.Contains(t, n.Summary, "Cash forecast for 13 weeks from 2026-06-01.")
	require.Contains(t, n.Summary, "In USD, USD 17300.00 is expected in from customers and USD 21000.00 out to vendors")
	require.Contains(t, n.Summary, "In EUR")
	require.NotEmpty(t, n.Drivers)
	require.Contains(t, strings.Join(n.Drivers, "\n"), "Largest customer: Umbrella Retail, USD 12500.00 open.")
	require.Contains(t, strings.Join(n.Drivers, "\n"), "Largest vendor: Globex Corporation, USD 21000.00 open.")
	require.Contains(t, strings.Join(n.Risks, "\n"), "Umbrella Retail pays late: 25 days after the due date at the median and 55 at P90")
	require.Contains(t, strings.Join(n.Risks, "\n"), "cumulative net cash in USD falls to USD -")

	// Every amount cited is a number of the report, and every cited amount is listed.
	var generic any
	require.NoError(t, json.Unmarshal(raw, &generic))
	present := map[int64]bool{}
	collectIntegers(generic, present)
	require.NotEmpty(t, n.CitedAmountsMinor)
	for _, a := range n.CitedAmountsMinor {
		require.True(t, present[a], "%d is not in the report", a)
	}
	in := ForecastNarrativeInput{Forecast: generic}
	require.Empty(t, checkNarrative(&in, &n))

	// A narrative citing an amount the report does not hold is refused.
	n.CitedAmountsMinor = append(n.CitedAmountsMinor, 1_730_001)
	require.Len(t, checkNarrative(&in, &n), 1)
}

func TestNarrateNothingOpen(t *testing.T) {
	n := narrate(forecastDoc{AsOf: "2026-06-01", Weeks: 13})
	require.Contains(t, n.Summary, "Nothing is open")
	require.Empty(t, n.CitedAmountsMinor)
}

// TestBuiltinOutputsPassValidation runs the built-in provider on realistic inputs of
// every agent and validates each output as the gateway does: schema, types and the
// agent's own checks.
func TestBuiltinOutputsPassValidation(t *testing.T) {
	report := sampleForecast(t)
	inputs := map[Name][]any{
		APExtract: {
			APExtractInput{Text: ukBill, Vendors: vendors}, APExtractInput{Text: usBill, Vendors: vendors},
			APExtractInput{Text: germanBill, Vendors: vendors}, APExtractInput{Text: looseBill},
		},
		ARCollections:    {arInput(StageReminder), arInput(StageFirm), arInput(StageFinal)},
		ForecastNarrator: {ForecastNarrativeInput{Forecast: report}, ForecastNarrativeInput{Forecast: forecast.Report{Object: "cash_forecast", Weeks: 13, Forecasts: []forecast.Forecast{}}}},
	}
	for agent, ins := range inputs {
		sp := specs[agent]
		for i, in := range ins {
			canonical, err := canonicalJSON(in)
			require.NoError(t, err)
			reply, err := BuiltinProvider{}.Call(context.Background(), Call{Agent: agent, Input: canonical})
			require.NoError(t, err, "%s #%d", agent, i)
			out, problems := sp.accept(reply.Output, canonical)
			require.Empty(t, problems, "%s #%d: %s", agent, i, reply.Output)
			require.IsType(t, sp.newOutput(), out)
		}
	}
}

func TestAcceptRefusesBadOutputs(t *testing.T) {
	in, _ := canonicalJSON(APExtractInput{Text: ukBill, Vendors: vendors})
	good, err := extractBill(APExtractInput{Text: ukBill, Vendors: vendors})
	require.NoError(t, err)
	mutate := func(f func(*APExtraction)) []byte {
		e := good
		e.Lines = append([]ExtractedLine(nil), good.Lines...)
		e.Confidence = map[string]float64{}
		for k, v := range good.Confidence {
			e.Confidence[k] = v
		}
		f(&e)
		b, _ := json.Marshal(e)
		return b
	}
	cases := map[string]struct {
		output []byte
		want   string
	}{
		"not json":          {[]byte(`{"vendor": `), "not valid JSON"},
		"unknown field":     {[]byte(strings.Replace(string(mutate(func(*APExtraction) {})), `{"vendor"`, `{"extra": 1, "vendor"`, 1)), "extra"},
		"confidence > 1":    {mutate(func(e *APExtraction) { e.Confidence["lines"] = 1.5 }), "confidence"},
		"missing field":     {[]byte(`{"vendor": {"name": "x", "tax_id": null, "matched_id": null}}`), "number"},
		"bad currency":      {mutate(func(e *APExtraction) { e.Currency = "XYZ" }), "currency"},
		"unknown vendor id": {mutate(func(e *APExtraction) { e.Vendor.MatchedID = ptr(uuid.New()) }), "matched_id"},
		"zero quantity":     {mutate(func(e *APExtraction) { e.Lines[0].Quantity = "0" }), "quantity"},
		"tax over 100":      {mutate(func(e *APExtraction) { e.Lines[0].TaxRate = ptr("120") }), "tax_rate"},
		"due before issue":  {mutate(func(e *APExtraction) { e.DueDate = ptr(date("2026-01-01")) }), "due_date"},
		"bad date":          {[]byte(strings.Replace(string(mutate(func(*APExtraction) {})), `"2026-03-03"`, `"03/03/2026"`, 1)), "issue_date"},
	}
	for name, c := range cases {
		_, problems := specs[APExtract].accept(c.output, in)
		require.NotEmpty(t, problems, name)
		require.Contains(t, strings.Join(problems, "\n"), c.want, name)
	}
	_, problems := specs[APExtract].accept([]byte("```json\n"+string(mutate(func(*APExtraction) {}))+"\n```"), in)
	require.Empty(t, problems, "a fenced answer is read")

	// A total that differs from the lines is kept: it is for a person to see, not a
	// reason to ask the model for numbers that add up.
	_, problems = specs[APExtract].accept(mutate(func(e *APExtraction) { e.TotalMinor = 30000 }), in)
	require.Empty(t, problems)
}

func TestDraftCollectionOfManyInvoicesStaysValid(t *testing.T) {
	in := arInput(StageFinal)
	in.Invoices = nil
	for i := range 130 {
		in.Invoices = append(in.Invoices, OverdueInvoice{ID: uuid.New(), Number: fmt.Sprintf("INV-%06d", i),
			DueDate: date("2026-01-01").AddDays(i), AmountDueMinor: 1000})
	}
	canonical, err := canonicalJSON(in)
	require.NoError(t, err)
	reply, err := BuiltinProvider{}.Call(context.Background(), Call{Agent: ARCollections, Input: canonical})
	require.NoError(t, err)
	out, problems := specs[ARCollections].accept(reply.Output, canonical)
	require.Empty(t, problems)
	msg := out.(*CollectionMessage)
	require.Len(t, msg.CitedInvoiceIDs, maxListedInvoices, "the oldest are named")
	require.Contains(t, msg.Body, "and 90 more overdue invoices")
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	require.Equal(t, 7*time.Second, parseRetryAfter("7", now))
	require.Equal(t, 90*time.Second, parseRetryAfter(now.Add(90*time.Second).Format(http.TimeFormat), now))
	require.Zero(t, parseRetryAfter(now.Add(-time.Minute).Format(http.TimeFormat), now), "a date passed: no wait")
	require.Zero(t, parseRetryAfter("soon", now))
	require.Zero(t, parseRetryAfter("-3", now))
	require.Equal(t, 30*time.Second, retryInfoDelay([]map[string]any{
		{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"},
		{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"},
	}))
}

func TestClipKeepsCharactersWhole(t *testing.T) {
	require.Equal(t, "Zürich", clip("Zürich AG", 7))
	require.Equal(t, "Z", clip("Zürich", 2), "never half of ü")
	require.Equal(t, "short", clip("short", 10))
}

// FuzzExtractBill holds the built-in AP agent to its contract on any text: it never
// panics, and whatever it extracts passes the validation a model's output must pass.
func FuzzExtractBill(f *testing.F) {
	for _, s := range []string{ukBill, usBill, germanBill, looseBill, "Total 1,5,5.5,,\n2 x @ 3", "Invoice date: 31/31/9999\nx 1 x 1 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		in := APExtractInput{Text: text, Vendors: vendors, ReceivedOn: ptr(date("2026-05-01")), DefaultCurrency: "EUR"}
		got, err := extractBill(in)
		if err != nil {
			return
		}
		output, err := json.Marshal(got)
		require.NoError(t, err)
		canonical, err := canonicalJSON(in)
		require.NoError(t, err)
		_, problems := specs[APExtract].accept(output, canonical)
		require.Empty(t, problems, "%q → %s", text, output)
	})
}
