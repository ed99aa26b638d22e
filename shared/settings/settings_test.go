package settings

import (
	"encoding/json"
	"testing"
	"time"

	"cloud.google.com/go/civil"
	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

func decodePatch(t *testing.T, text string) UpdateInput {
	t.Helper()
	var in UpdateInput
	require.NoError(t, json.Unmarshal([]byte(text), &in))
	return in
}

var (
	now  = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	head = Version{Version: 3, EffectiveFrom: now.Add(-time.Hour), Settings: Defaults()}
)

func TestDefaultsAreValid(t *testing.T) {
	f := apperr.Fields{}
	Defaults().validate(f)
	require.Empty(t, f)
}

func TestApply(t *testing.T) {
	s, eff, err := decodePatch(t, `{}`).Apply(head, now)
	require.NoError(t, err)
	require.Equal(t, head.Settings, s, "an empty patch changes nothing")
	require.Equal(t, now, eff, "a version takes effect at once by default")

	s, eff, err = decodePatch(t, `{"tax_rounding": "per_document", "aging_buckets": [15, 45],
		"effective_from": "2026-07-01T00:00:00+02:00"}`).Apply(head, now)
	require.NoError(t, err)
	require.Equal(t, PerDocument, s.TaxRounding)
	require.Equal(t, []int{15, 45}, s.AgingBuckets)
	require.Equal(t, Defaults().DunningSchedule, s.DunningSchedule, "members left out keep their value")
	require.Equal(t, time.Date(2026, 6, 30, 22, 0, 0, 0, time.UTC), eff)
	require.Equal(t, Defaults(), head.Settings, "the head is not modified")
}

func TestApplyRefusesInvalidSettings(t *testing.T) {
	cases := map[string]struct {
		patch string
		want  map[string]string
	}{
		"nulls": {`{"base_currency": null, "aging_buckets": null, "effective_from": null}`, map[string]string{
			"base_currency": "must not be null", "aging_buckets": "must not be null", "effective_from": "must not be null"}},
		"currency":          {`{"base_currency": "usd"}`, map[string]string{"base_currency": "must be an active ISO 4217 code in upper case"}},
		"buckets unordered": {`{"aging_buckets": [60, 30]}`, map[string]string{"aging_buckets": "must be strictly ascending"}},
		"buckets empty":     {`{"aging_buckets": []}`, map[string]string{"aging_buckets": "must list 1 to 12 day counts"}},
		"buckets too far":   {`{"aging_buckets": [30, 4000]}`, map[string]string{"aging_buckets": "must be whole days from 1 to 3650"}},
		"dunning too long":  {`{"dunning_schedule": [1,2,3,4,5,6,7,8,9,10,11]}`, map[string]string{"dunning_schedule": "must list 1 to 10 day counts"}},
		"dunning zero":      {`{"dunning_schedule": [0, 7]}`, map[string]string{"dunning_schedule": "must be whole days from 1 to 3650"}},
		"rounding":          {`{"tax_rounding": "per_invoice"}`, map[string]string{"tax_rounding": "must be per_line or per_document"}},
		"terms":             {`{"payment_terms_days": 366}`, map[string]string{"payment_terms_days": "must be from 0 to 365"}},
		"threshold zero":    {`{"reconciliation_auto_threshold": 0}`, map[string]string{"reconciliation_auto_threshold": "must be greater than 0 and at most 1"}},
		"threshold above 1": {`{"reconciliation_auto_threshold": 1.01}`, map[string]string{"reconciliation_auto_threshold": "must be greater than 0 and at most 1"}},
		"tolerance":         {`{"reconciliation_tolerance_minor": -1}`, map[string]string{"reconciliation_tolerance_minor": "must be from 0 to 9007199254740991"}},
		"budget":            {`{"agent_budget_monthly_minor": -5}`, map[string]string{"agent_budget_monthly_minor": "must be from 0 to 9007199254740991"}},
		"format":            {`{"invoice_number_format": "inv-{number}"}`, map[string]string{"invoice_number_format": "may hold only upper-case letters, digits, - _ / . # and tokens; 'i' is not allowed"}},
		"past":              {`{"effective_from": "2026-06-01T11:59:59Z"}`, map[string]string{"effective_from": "must not be in the past"}},
		"everything at once": {`{"tax_rounding": "x", "payment_terms_days": -1}`, map[string]string{
			"tax_rounding": "must be per_line or per_document", "payment_terms_days": "must be from 0 to 365"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := decodePatch(t, tc.patch).Apply(head, now)
			e := apperr.From(err)
			require.Equal(t, apperr.Unprocessable, e.Kind, "%v", err)
			require.Equal(t, "validation_failed", e.Code)
			require.Equal(t, tc.want, e.Fields)
		})
	}
}

func TestApplyKeepsTheTimelineInOrder(t *testing.T) {
	scheduled := Version{Version: 4, EffectiveFrom: now.Add(48 * time.Hour), Settings: Defaults()}

	_, _, err := decodePatch(t, `{"payment_terms_days": 10}`).Apply(scheduled, now)
	require.Equal(t, map[string]string{"effective_from": "is required while version 4 is scheduled: at or after 2026-06-03T12:00:00Z"},
		apperr.From(err).Fields)
	_, _, err = decodePatch(t, `{"payment_terms_days": 10, "effective_from": "2026-06-02T00:00:00Z"}`).Apply(scheduled, now)
	require.Equal(t, map[string]string{"effective_from": "must not be before 2026-06-03T12:00:00Z, when version 4 takes effect"},
		apperr.From(err).Fields)
	_, eff, err := decodePatch(t, `{"payment_terms_days": 10, "effective_from": "2026-06-03T12:00:00Z"}`).Apply(scheduled, now)
	require.NoError(t, err, "the same instant as the scheduled version is after it")
	require.Equal(t, scheduled.EffectiveFrom, eff)
}

func TestApplyAsksForTheBudgetInANewCurrency(t *testing.T) {
	funded := head
	funded.AgentBudgetMonthlyMinor = 5000
	_, _, err := decodePatch(t, `{"base_currency": "JPY"}`).Apply(funded, now)
	require.Contains(t, apperr.From(err).Fields, "agent_budget_monthly_minor")

	s, _, err := decodePatch(t, `{"base_currency": "JPY", "agent_budget_monthly_minor": 750000}`).Apply(funded, now)
	require.NoError(t, err)
	require.Equal(t, int64(750000), s.AgentBudgetMonthlyMinor)

	s, _, err = decodePatch(t, `{"base_currency": "JPY"}`).Apply(head, now)
	require.NoError(t, err, "a budget of 0 is 0 in any currency")
	require.Equal(t, "JPY", s.BaseCurrency)
}

func TestParseFillsMissingMembers(t *testing.T) {
	s, err := Parse([]byte(`{"tax_rounding": "per_document"}`))
	require.NoError(t, err)
	want := Defaults()
	want.TaxRounding = PerDocument
	require.Equal(t, want, s)
	_, err = Parse([]byte(`[]`))
	require.Error(t, err)
}

func TestFormatNumber(t *testing.T) {
	date := civil.Date{Year: 2026, Month: 3, Day: 9}
	cases := []struct {
		format string
		n      int64
		want   string
	}{
		{"INV-{number:6}", 42, "INV-000042"},
		{"INV-{number:6}", 1234567, "INV-1234567"},
		{"BILL-{number:6}", 1, "BILL-000001"},
		{"{number}", 7, "7"},
		{"INV/{yyyy}/{mm}/{number:4}", 42, "INV/2026/03/0042"},
		{"{yy}{mm}-{number:3}#A", 5, "2603-005#A"},
	}
	for _, tc := range cases {
		got, err := FormatNumber(tc.format, tc.n, date)
		require.NoError(t, err, tc.format)
		require.Equal(t, tc.want, got, tc.format)
		require.Empty(t, CheckNumberFormat(tc.format))
	}
	// The defaults write what numbers looked like before formats were configurable.
	d := Defaults()
	for format, want := range map[string]string{d.InvoiceNumberFormat: "INV-000001", d.BillNumberFormat: "BILL-000001",
		d.CreditNoteNumberFormat: "CN-000001"} {
		got, err := FormatNumber(format, 1, date)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
}

func TestCheckNumberFormat(t *testing.T) {
	for format, want := range map[string]string{
		"":                      "must be 1 to 40 characters",
		"INV-{number}-{number}": "must hold {number} or {number:N} exactly once",
		"INV-{yyyy}":            "must hold {number} or {number:N} exactly once",
		"INV-{number:0}":        "pads {number:N} to N digits, from 1 to 12",
		"INV-{number:13}":       "pads {number:N} to N digits, from 1 to 12",
		"INV-{number:x}":        "pads {number:N} to N digits, from 1 to 12",
		"INV-{dd}{number}":      "has an unknown token {dd}; use {number}, {number:N}, {yyyy}, {yy} or {mm}",
		"INV-{number":           "has a { without its }",
		"INV {number}":          "may hold only upper-case letters, digits, - _ / . # and tokens; ' ' is not allowed",
		"INV-{number}}":         "may hold only upper-case letters, digits, - _ / . # and tokens; '}' is not allowed",
		"ÄINV-{number}":         "may hold only upper-case letters, digits, - _ / . # and tokens; 'Ä' is not allowed",
		"INV-{number:6}-AAAAAAAAAAAAAAAAAAAAAAAAAA": "must be 1 to 40 characters",
	} {
		require.Equal(t, want, CheckNumberFormat(format), format)
		_, err := FormatNumber(format, 1, civil.Date{Year: 2026, Month: 1, Day: 1})
		require.Error(t, err, format)
	}
}
