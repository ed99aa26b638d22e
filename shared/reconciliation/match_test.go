package reconciliation

import (
	"encoding/json"
	"fmt"
	"testing"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

var (
	customer = uuid.MustParse("00000000-0000-7000-8000-00000000c001")
	other    = uuid.MustParse("00000000-0000-7000-8000-00000000c002")
	valueDay = civil.Date{Year: 2026, Month: 11, Day: 10}
)

// inv builds invoice n (INV-00000n) of the customer, due five days after the value date.
func inv(n int, due int64) Invoice {
	return Invoice{
		ID:     uuid.MustParse(fmt.Sprintf("00000000-0000-7000-8000-%012d", n)),
		Number: fmt.Sprintf("INV-%06d", n), CounterpartyID: customer, AmountDueMinor: due,
		DueDate: valueDay.AddDays(5),
	}
}

func with(i Invoice, edit func(*Invoice)) Invoice {
	edit(&i)
	return i
}

func pay(amount int64, reference string) Payment {
	return Payment{AmountMinor: amount, ValueDate: valueDay, Reference: reference, CounterpartyID: customer}
}

type want struct {
	auto     bool
	score    float64
	amounts  map[int]int64 // invoice n → amount, of the best candidate
	reasons  []Reason      // of the best candidate
	runnerUp float64       // score of the second candidate, 0 when there is none
	count    int
}

func TestMatch(t *testing.T) {
	defaults := DefaultSettings()
	cases := []struct {
		name     string
		payment  Payment
		invoices []Invoice
		settings Settings
		want     want
	}{
		{
			name:     "reference and exact amount: allocated",
			payment:  pay(45000, "Payment for inv-000002, thanks"),
			invoices: []Invoice{inv(1, 45000), inv(2, 45000), inv(3, 12000)},
			want: want{auto: true, score: 1, amounts: map[int]int64{2: 45000}, runnerUp: 0.5, count: 2,
				reasons: []Reason{{"reference", "INV-000002"}, {"amount", "exact"}, {"counterparty", "same"}, {"due_date", "within_30_days"}}},
		},
		{
			name:     "amount only, two equal invoices: suggested, not allocated",
			payment:  pay(45000, ""),
			invoices: []Invoice{inv(1, 45000), inv(2, 45000)},
			want: want{score: 0.5, amounts: map[int]int64{1: 45000}, runnerUp: 0.5, count: 2,
				reasons: []Reason{{"amount", "exact"}, {"counterparty", "same"}, {"due_date", "within_30_days"}}},
		},
		{
			name:     "amount only, one invoice: still only suggested",
			payment:  pay(45000, ""),
			invoices: []Invoice{inv(1, 45000), inv(2, 30000)},
			want:     want{score: 0.5, amounts: map[int]int64{1: 45000}, count: 1, reasons: []Reason{{"amount", "exact"}, {"counterparty", "same"}, {"due_date", "within_30_days"}}},
		},
		{
			name:     "one payment for two invoices named in the reference: both allocated",
			payment:  pay(57000, "INV-000001 INV-000003"),
			invoices: []Invoice{inv(1, 45000), inv(2, 30000), inv(3, 12000)},
			want: want{auto: true, score: 1, amounts: map[int]int64{1: 45000, 3: 12000}, runnerUp: 0.7, count: 3,
				reasons: []Reason{{"reference", "INV-000001"}, {"reference", "INV-000003"}, {"amount", "sum_exact"}, {"counterparty", "same"}, {"due_date", "within_30_days"}}},
		},
		{
			name:     "a set without a reference: suggested",
			payment:  pay(57000, ""),
			invoices: []Invoice{inv(1, 45000), inv(2, 30000), inv(3, 12000)},
			want: want{score: 0.5, amounts: map[int]int64{1: 45000, 3: 12000}, count: 1,
				reasons: []Reason{{"amount", "sum_exact"}, {"counterparty", "same"}, {"due_date", "within_30_days"}}},
		},
		{
			name:     "within tolerance: a weaker amount match, suggested",
			payment:  pay(44950, "INV-000001"),
			invoices: []Invoice{inv(1, 45000)},
			want: want{score: 0.85, amounts: map[int]int64{1: 44950}, count: 1,
				reasons: []Reason{{"reference", "INV-000001"}, {"amount", "within_tolerance"}, {"counterparty", "same"}, {"due_date", "within_30_days"}}},
		},
		{
			name:     "within tolerance and a lower threshold: allocated, the overpayment stays on the payment",
			payment:  pay(45050, "INV-000001"),
			invoices: []Invoice{inv(1, 45000)},
			settings: Settings{AutoThreshold: 0.8, ToleranceMinor: 100},
			want: want{auto: true, score: 0.85, amounts: map[int]int64{1: 45000}, count: 1,
				reasons: []Reason{{"reference", "INV-000001"}, {"amount", "within_tolerance"}, {"counterparty", "same"}, {"due_date", "within_30_days"}}},
		},
		{
			name:     "outside the tolerance the amount is no evidence",
			payment:  pay(44899, ""),
			invoices: []Invoice{inv(1, 45000)},
			want:     want{count: 0},
		},
		{
			name:     "tolerance 0 keeps only exact amounts",
			payment:  pay(44999, ""),
			invoices: []Invoice{inv(1, 45000)},
			settings: Settings{AutoThreshold: 0.9, ToleranceMinor: 0},
			want:     want{count: 0},
		},
		{
			name:     "another counterparty's invoice is never allocated without asking",
			payment:  pay(45000, "INV-000001"),
			invoices: []Invoice{with(inv(1, 45000), func(i *Invoice) { i.CounterpartyID = other })},
			want: want{score: 0.85, amounts: map[int]int64{1: 45000}, count: 1,
				reasons: []Reason{{"reference", "INV-000001"}, {"amount", "exact"}, {"due_date", "within_30_days"}}},
		},
		{
			name:     "a partial payment of a named invoice: suggested for what was paid",
			payment:  pay(20000, "INV-000001"),
			invoices: []Invoice{with(inv(1, 45000), func(i *Invoice) { i.DueDate = valueDay.AddDays(60) })},
			want:     want{score: 0.65, amounts: map[int]int64{1: 20000}, count: 1, reasons: []Reason{{"reference", "INV-000001"}, {"counterparty", "same"}}},
		},
		{
			name:     "a number inside a longer one is not named",
			payment:  pay(1, "INV-0000011 XINV-000001"),
			invoices: []Invoice{inv(1, 45000)},
			want:     want{count: 0},
		},
		{
			name:     "counterparty and date alone are no evidence",
			payment:  pay(99999, "rent"),
			invoices: []Invoice{inv(1, 45000), inv(2, 30000)},
			want:     want{count: 0},
		},
		{
			name:     "two invoices named, one exact: the exact one wins clearly",
			payment:  pay(30000, "INV-000001 INV-000002"),
			invoices: []Invoice{inv(1, 45000), inv(2, 30000)},
			want: want{auto: true, score: 1, amounts: map[int]int64{2: 30000}, runnerUp: 0.7, count: 2,
				reasons: []Reason{{"reference", "INV-000002"}, {"amount", "exact"}, {"counterparty", "same"}, {"due_date", "within_30_days"}}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.settings
			if s == (Settings{}) {
				s = defaults
			}
			got := Match(tc.payment, tc.invoices, s)
			require.Len(t, got.Candidates, tc.want.count)
			require.Equal(t, tc.want.auto, got.Auto)
			if tc.want.count == 0 {
				return
			}
			best := got.Candidates[0]
			require.InDelta(t, tc.want.score, best.Score(), 1e-9)
			amounts := map[int]int64{}
			for _, a := range best.Amounts {
				var n int
				_, err := fmt.Sscanf(a.InvoiceID.String()[24:], "%d", &n)
				require.NoError(t, err)
				amounts[n] = a.AmountMinor
			}
			require.Equal(t, tc.want.amounts, amounts)
			require.Equal(t, tc.want.reasons, best.Reasons)
			if len(got.Candidates) > 1 {
				require.InDelta(t, tc.want.runnerUp, got.Candidates[1].Score(), 1e-9)
			}
		})
	}
}

func TestMatchRanksDeterministically(t *testing.T) {
	invoices := []Invoice{inv(3, 45000), inv(1, 45000), with(inv(2, 45000), func(i *Invoice) { i.DueDate = valueDay.AddDays(1) })}
	for i := 0; i < 3; i++ {
		got := Match(pay(45000, ""), invoices, DefaultSettings())
		require.Len(t, got.Candidates, 3)
		require.Equal(t, inv(2, 0).ID, got.Candidates[0].Amounts[0].InvoiceID, "the earliest due first")
		require.Equal(t, inv(1, 0).ID, got.Candidates[1].Amounts[0].InvoiceID, "then by id")
		require.Equal(t, inv(3, 0).ID, got.Candidates[2].Amounts[0].InvoiceID)
		invoices = append(invoices[1:], invoices[0])
	}
}

func TestMatchKeepsTheBestFew(t *testing.T) {
	var invoices []Invoice
	for n := 1; n <= 10; n++ {
		invoices = append(invoices, inv(n, 1000))
	}
	got := Match(pay(1000, ""), invoices, DefaultSettings())
	require.Len(t, got.Candidates, MaxSuggestions)
	require.False(t, got.Auto)
}

// The set search is bounded: many small invoices of one counterparty cannot make it
// run long, and whatever it finds adds up exactly.
func TestMatchSetSearchIsBounded(t *testing.T) {
	var invoices []Invoice
	for n := 1; n <= 500; n++ {
		invoices = append(invoices, inv(n, int64(100+n%7)))
	}
	got := Match(pay(1_000_000, ""), invoices, DefaultSettings())
	require.Empty(t, got.Candidates, "no subset of the first 20 reaches the amount")

	got = Match(pay(309, ""), invoices, DefaultSettings())
	require.NotEmpty(t, got.Candidates)
	for _, c := range got.Candidates {
		var sum int64
		for _, a := range c.Amounts {
			sum += a.AmountMinor
		}
		require.Equal(t, int64(309), sum)
		require.GreaterOrEqual(t, len(c.Amounts), 2)
	}
}

func TestParseSettings(t *testing.T) {
	d := DefaultSettings()
	require.Equal(t, Settings{AutoThreshold: 0.9, ToleranceMinor: 100}, d)
	cases := map[string]Settings{
		``:                            d,
		`{}`:                          d,
		`{"tax_rounding":"per_line"}`: d,
		`{"reconciliation_auto_threshold":0.75,"reconciliation_tolerance_minor":0}`:        {AutoThreshold: 0.75, ToleranceMinor: 0},
		`{"reconciliation_auto_threshold":1,"reconciliation_tolerance_minor":250}`:         {AutoThreshold: 1, ToleranceMinor: 250},
		`{"reconciliation_auto_threshold":0,"reconciliation_tolerance_minor":-1}`:          d,
		`{"reconciliation_auto_threshold":1.5,"reconciliation_tolerance_minor":2.5}`:       d,
		`{"reconciliation_auto_threshold":"high","reconciliation_tolerance_minor":"lots"}`: d,
		`not json`: d,
	}
	for doc, want := range cases {
		require.Equal(t, want, ParseSettings([]byte(doc)), doc)
	}
}

func TestDecodeInbound(t *testing.T) {
	ok := map[string]any{"tenant_id": uuid.NewString(), "external_id": "bank-1", "direction": "incoming",
		"amount_minor": 45000, "currency": "USD", "value_date": "2026-11-10", "reference": "INV-000001",
		"counterparty_name": "  Globex ", "method": "bank_transfer", "extra": "ignored"}
	body, err := json.Marshal(ok)
	require.NoError(t, err)
	in, create, err := decodeInbound(body)
	require.NoError(t, err)
	require.Equal(t, "Globex", in.CounterpartyName)
	require.Equal(t, "bank-1", *create.ExternalID)
	require.Equal(t, valueDay, create.ValueDate)
	require.Equal(t, "bank_transfer", *create.Method)

	bad := map[string]string{
		`{"direction":"sideways","amount_minor":0,"currency":"usd","value_date":"tomorrow","method":"barter","counterparty_id":"x"}`: "",
		`{"amount_minor":"100"}`: "amount_minor",
		`[1,2]`:                  "",
		`{"external_id":"b","direction":"incoming","amount_minor":1.5}`: "amount_minor",
	}
	for text, field := range bad {
		_, _, err := decodeInbound([]byte(text))
		require.Error(t, err, text)
		if field != "" {
			require.Contains(t, err.Error(), field, text)
		}
	}
	_, _, err = decodeInbound([]byte(`{"direction":"sideways","amount_minor":0,"currency":"usd","value_date":"tomorrow","method":"barter","counterparty_id":"x"}`))
	for _, field := range []string{"external_id", "direction", "amount_minor", "currency", "value_date", "method", "counterparty_id"} {
		require.Contains(t, err.Error(), field)
	}
}
