// Package settings holds a tenant's settings as versioned data: the settings and their
// rules (settings.go, numbering.go, no I/O), the use cases that read the version in
// effect (through the cache) and append new versions with their audit and outbox
// records (service.go), and the only SQL that touches them (store.go).
//
// A version is a whole settings document that takes effect at a time and is never
// changed afterwards. Documents keep what they were computed with: an invoice stores
// its tax rounding, amounts and number when they are computed, so a new version only
// affects documents computed after it takes effect. The readers inside other domains'
// transactions (invoices, closing, reconciliation, aging) read the version in effect
// with the database function tenant_settings_at (migrations/00014) in the same round
// trip as the statements that use it, exact at the transaction's time.
package settings

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/money"
	"github.com/ledgerline/ledgerline/shared/patch"
)

// Tax rounding modes: where tax is rounded to the minor unit.
const (
	PerLine     = "per_line"
	PerDocument = "per_document"
)

// Limits. Bucket edges match what the aging report accepts in its query; the rest bound
// values to what a finance team uses, so a typo cannot produce a schedule of thousands.
const (
	MaxAgingBuckets   = 12
	MaxDunningStages  = 10
	MaxDays           = 3650
	MaxPaymentTerms   = 365
	MaxToleranceMinor = 1<<53 - 1 // what a JSON number carries exactly
)

// Settings are the values of one version. Every member is always present: a stored
// version is complete, so what it meant never depends on the defaults of the code that
// reads it. The JSON names are those of the stored document, which the readers in other
// domains parse.
type Settings struct {
	// BaseCurrency is the tenant's reporting currency; the agent budget is in its minor units.
	BaseCurrency string `json:"base_currency"`
	// AgingBuckets are the edges, in days past due, of the aging report's buckets.
	AgingBuckets []int `json:"aging_buckets"`
	// TaxRounding is per_line or per_document, fixed on each invoice when it is created.
	TaxRounding string `json:"tax_rounding"`
	// The numbering formats (numbering.go), applied when a number is assigned.
	InvoiceNumberFormat    string `json:"invoice_number_format"`
	BillNumberFormat       string `json:"bill_number_format"`
	CreditNoteNumberFormat string `json:"credit_note_number_format"`
	// PaymentTermsDays are the default days from issue to due date.
	PaymentTermsDays int `json:"payment_terms_days"`
	// DunningSchedule are the stages of reminders, in days overdue.
	DunningSchedule []int `json:"dunning_schedule"`
	// ReconciliationAutoThreshold is the match score from which an inbound payment is
	// allocated without asking; ReconciliationToleranceMinor how far an amount due may be
	// from the payment and still count as an amount match.
	ReconciliationAutoThreshold  float64 `json:"reconciliation_auto_threshold"`
	ReconciliationToleranceMinor int64   `json:"reconciliation_tolerance_minor"`
	// AgentBudgetMonthlyMinor is what the tenant's AI agents may spend in a calendar
	// month, in minor units of BaseCurrency; 0 lets them spend nothing.
	AgentBudgetMonthlyMinor int64 `json:"agent_budget_monthly_minor"`
	// AgentProposalLimitsMinor is, per currency, the largest amount an agent may
	// propose to allocate or write off in one proposal, in minor units. Amounts in
	// different currencies cannot be compared without a rate, so each currency has its
	// own limit, and an agent may propose nothing in a currency without one.
	AgentProposalLimitsMinor map[string]int64 `json:"agent_proposal_limits_minor"`
}

// Defaults are the settings of a tenant that never chose any, which are also the values
// the readers fell back to before settings were versioned.
func Defaults() Settings {
	return Settings{
		BaseCurrency: "USD", AgingBuckets: []int{30, 60, 90}, TaxRounding: PerLine,
		InvoiceNumberFormat: "INV-{number:6}", BillNumberFormat: "BILL-{number:6}", CreditNoteNumberFormat: "CN-{number:6}",
		PaymentTermsDays: 30, DunningSchedule: []int{7, 14, 30},
		ReconciliationAutoThreshold: 0.9, ReconciliationToleranceMinor: 100,
		AgentProposalLimitsMinor: map[string]int64{},
	}
}

// Parse reads a stored settings document. A member that is missing keeps its default,
// so a document written by an older release still reads whole.
func Parse(doc []byte) (Settings, error) {
	s := Defaults()
	if err := json.Unmarshal(doc, &s); err != nil {
		return Settings{}, fmt.Errorf("settings: stored document: %w", err)
	}
	return s, nil
}

// Actor is who made a version.
type Actor struct {
	Type string `json:"type"` // user, api_client, agent or system
	ID   string `json:"id"`
}

// Version is one version of a tenant's settings: its values, when they take effect and
// who set them.
type Version struct {
	ID            uuid.UUID `json:"id"`
	Object        string    `json:"object"`
	Version       int       `json:"version"`
	EffectiveFrom time.Time `json:"effective_from"`
	CreatedAt     time.Time `json:"created_at"`
	CreatedBy     Actor     `json:"created_by"`
	Settings
}

// UpdateInput is the body of PATCH /v1/tenant/settings: a JSON merge patch of the
// latest version, and when the new version takes effect (omitted: at once).
type UpdateInput struct {
	EffectiveFrom                patch.Field[time.Time] `json:"effective_from"`
	BaseCurrency                 patch.Field[string]    `json:"base_currency"`
	AgingBuckets                 patch.Field[[]int]     `json:"aging_buckets"`
	TaxRounding                  patch.Field[string]    `json:"tax_rounding"`
	InvoiceNumberFormat          patch.Field[string]    `json:"invoice_number_format"`
	BillNumberFormat             patch.Field[string]    `json:"bill_number_format"`
	CreditNoteNumberFormat       patch.Field[string]    `json:"credit_note_number_format"`
	PaymentTermsDays             patch.Field[int]       `json:"payment_terms_days"`
	DunningSchedule              patch.Field[[]int]     `json:"dunning_schedule"`
	ReconciliationAutoThreshold  patch.Field[float64]   `json:"reconciliation_auto_threshold"`
	ReconciliationToleranceMinor patch.Field[int64]     `json:"reconciliation_tolerance_minor"`
	AgentBudgetMonthlyMinor      patch.Field[int64]     `json:"agent_budget_monthly_minor"`
	// AgentProposalLimitsMinor merges into the limits as RFC 7396 merges objects: a
	// currency with a number sets its limit, one with null removes it.
	AgentProposalLimitsMinor patch.Field[map[string]*int64] `json:"agent_proposal_limits_minor"`
}

// Apply returns the next version of head's settings, taking effect at effectiveFrom
// (the patch's, else now), or the 422 naming every invalid member. The result is
// checked whole, so no patch can produce settings a reader would refuse.
func (in UpdateInput) Apply(head Version, now time.Time) (Settings, time.Time, error) {
	f := apperr.Fields{}
	for field, null := range map[string]bool{
		"effective_from": in.EffectiveFrom.Null, "base_currency": in.BaseCurrency.Null, "aging_buckets": in.AgingBuckets.Null,
		"tax_rounding": in.TaxRounding.Null, "invoice_number_format": in.InvoiceNumberFormat.Null,
		"bill_number_format": in.BillNumberFormat.Null, "credit_note_number_format": in.CreditNoteNumberFormat.Null,
		"payment_terms_days": in.PaymentTermsDays.Null, "dunning_schedule": in.DunningSchedule.Null,
		"reconciliation_auto_threshold":  in.ReconciliationAutoThreshold.Null,
		"reconciliation_tolerance_minor": in.ReconciliationToleranceMinor.Null,
		"agent_budget_monthly_minor":     in.AgentBudgetMonthlyMinor.Null,
		"agent_proposal_limits_minor":    in.AgentProposalLimitsMinor.Null,
	} {
		if null {
			f.Add(field, "must not be null")
		}
	}
	s := head.Settings
	s.BaseCurrency = in.BaseCurrency.Or(s.BaseCurrency)
	s.AgingBuckets = in.AgingBuckets.Or(s.AgingBuckets)
	s.TaxRounding = in.TaxRounding.Or(s.TaxRounding)
	s.InvoiceNumberFormat = in.InvoiceNumberFormat.Or(s.InvoiceNumberFormat)
	s.BillNumberFormat = in.BillNumberFormat.Or(s.BillNumberFormat)
	s.CreditNoteNumberFormat = in.CreditNoteNumberFormat.Or(s.CreditNoteNumberFormat)
	s.PaymentTermsDays = in.PaymentTermsDays.Or(s.PaymentTermsDays)
	s.DunningSchedule = in.DunningSchedule.Or(s.DunningSchedule)
	s.ReconciliationAutoThreshold = in.ReconciliationAutoThreshold.Or(s.ReconciliationAutoThreshold)
	s.ReconciliationToleranceMinor = in.ReconciliationToleranceMinor.Or(s.ReconciliationToleranceMinor)
	s.AgentBudgetMonthlyMinor = in.AgentBudgetMonthlyMinor.Or(s.AgentBudgetMonthlyMinor)
	s.AgentProposalLimitsMinor = mergeLimits(s.AgentProposalLimitsMinor, in.AgentProposalLimitsMinor)
	s.validate(f)

	// A budget is an amount of the base currency: kept as it was, 5000 would change
	// from 50 dollars to 5000 yen.
	if s.BaseCurrency != head.BaseCurrency && s.AgentBudgetMonthlyMinor != 0 && !in.AgentBudgetMonthlyMinor.Set {
		f.Add("agent_budget_monthly_minor", "must be given again when base_currency changes, in minor units of the new currency")
	}

	// The timeline only moves forward: a version takes effect neither in the past (which
	// would rewrite what documents computed since were computed with) nor before the
	// latest version, which it builds on.
	effective := now
	if in.EffectiveFrom.Set && !in.EffectiveFrom.Null {
		effective = in.EffectiveFrom.Value.UTC().Truncate(time.Microsecond)
		switch {
		case effective.Before(now):
			f.Add("effective_from", "must not be in the past")
		case effective.Before(head.EffectiveFrom):
			f.Add("effective_from", fmt.Sprintf("must not be before %s, when version %d takes effect",
				head.EffectiveFrom.Format(time.RFC3339), head.Version))
		}
	} else if effective.Before(head.EffectiveFrom) {
		f.Add("effective_from", fmt.Sprintf("is required while version %d is scheduled: at or after %s",
			head.Version, head.EffectiveFrom.Format(time.RFC3339)))
	}
	return s, effective, f.Err()
}

// validate records in f what is wrong with s.
func (s Settings) validate(f apperr.Fields) {
	if !money.ValidCurrency(s.BaseCurrency) {
		f.Add("base_currency", "must be an active ISO 4217 code in upper case")
	}
	if msg := checkDays(s.AgingBuckets, MaxAgingBuckets); msg != "" {
		f.Add("aging_buckets", msg)
	}
	if s.TaxRounding != PerLine && s.TaxRounding != PerDocument {
		f.Add("tax_rounding", "must be per_line or per_document")
	}
	for field, format := range map[string]string{
		"invoice_number_format": s.InvoiceNumberFormat, "bill_number_format": s.BillNumberFormat,
		"credit_note_number_format": s.CreditNoteNumberFormat,
	} {
		if msg := CheckNumberFormat(format); msg != "" {
			f.Add(field, msg)
		}
	}
	if s.PaymentTermsDays < 0 || s.PaymentTermsDays > MaxPaymentTerms {
		f.Add("payment_terms_days", fmt.Sprintf("must be from 0 to %d", MaxPaymentTerms))
	}
	if msg := checkDays(s.DunningSchedule, MaxDunningStages); msg != "" {
		f.Add("dunning_schedule", msg)
	}
	if t := s.ReconciliationAutoThreshold; !(t > 0 && t <= 1) {
		f.Add("reconciliation_auto_threshold", "must be greater than 0 and at most 1")
	}
	if s.ReconciliationToleranceMinor < 0 || s.ReconciliationToleranceMinor > MaxToleranceMinor {
		f.Add("reconciliation_tolerance_minor", "must be from 0 to 9007199254740991")
	}
	if s.AgentBudgetMonthlyMinor < 0 || s.AgentBudgetMonthlyMinor > MaxToleranceMinor {
		f.Add("agent_budget_monthly_minor", "must be from 0 to 9007199254740991")
	}
	if len(s.AgentProposalLimitsMinor) > MaxAgentLimits {
		f.Add("agent_proposal_limits_minor", fmt.Sprintf("must name at most %d currencies", MaxAgentLimits))
	}
	for _, cur := range slices.Sorted(maps.Keys(s.AgentProposalLimitsMinor)) {
		if v := s.AgentProposalLimitsMinor[cur]; !money.ValidCurrency(cur) {
			f.Add("agent_proposal_limits_minor", cur+" is not an active ISO 4217 code in upper case")
		} else if v < 0 || v > MaxToleranceMinor {
			f.Add("agent_proposal_limits_minor", cur+" must be from 0 to 9007199254740991")
		}
	}
}

// MaxAgentLimits bounds the currencies with an agent proposal limit.
const MaxAgentLimits = 50

// mergeLimits applies a merge patch of the agent proposal limits to current.
func mergeLimits(current map[string]int64, p patch.Field[map[string]*int64]) map[string]int64 {
	out := maps.Clone(current)
	if out == nil {
		out = map[string]int64{}
	}
	if !p.Set || p.Null {
		return out
	}
	for cur, v := range p.Value {
		if v == nil {
			delete(out, cur)
		} else {
			out[cur] = *v
		}
	}
	return out
}

// checkDays says what is wrong with a list of day counts: it must hold 1 to max whole
// days from 1 to MaxDays, strictly ascending.
func checkDays(days []int, max int) string {
	if len(days) < 1 || len(days) > max {
		return fmt.Sprintf("must list 1 to %d day counts", max)
	}
	for i, d := range days {
		if d < 1 || d > MaxDays {
			return fmt.Sprintf("must be whole days from 1 to %d", MaxDays)
		}
		if i > 0 && d <= days[i-1] {
			return "must be strictly ascending"
		}
	}
	return ""
}

// equal reports whether a and b are the same settings.
func equal(a, b Settings) bool {
	x, errA := json.Marshal(a)
	y, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(x) == string(y)
}
