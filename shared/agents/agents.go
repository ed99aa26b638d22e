// Package agents runs Ledgerline's AI agents: each call goes through one gateway that
// picks the provider configured for the agent (an external agent server over MCP,
// Gemini, or the deterministic built-in agent), retries transient failures, serves
// repeats from a cache, keeps the tenant within its monthly budget, validates the
// output against the agent's schema (one repair attempt, then a recorded failure), and
// records every call as an agent run. Agents only propose: what they produce becomes a
// proposal that a person approves (package proposals), never a write to the books.
package agents

import (
	"context"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
)

// Name identifies an agent: its input and output types, its schema and its prompt.
type Name string

const (
	// APExtract reads a vendor's bill (text) and extracts a draft bill.
	APExtract Name = "ap_extract"
	// ARCollections drafts a collection message for one overdue customer.
	ARCollections Name = "ar_collections"
	// ForecastNarrator explains the 13-week cash forecast in words.
	ForecastNarrator Name = "forecast_narrative"
)

// Gateway runs agents for tenants. Run marshals input, calls the agent's provider (or
// the cache), validates the output against the agent's schema and decodes it into out,
// a pointer to the agent's output type. It returns the run as recorded; an error is an
// apperr: the tenant's budget exhausted (agent_budget_exhausted, 402), the agents
// feature off (agents_disabled, 403), the provider failing after retries
// (agent_unavailable, 503), the provider refusing the request (agent_failed, 502), or
// an output that stayed invalid after the repair attempt (agent_output_invalid, 502);
// IsUnavailable is true for all of these. An input that breaks the agent's contract
// is agent_input_invalid (422) and records no run. Nothing half-parsed is ever
// returned in out.
type Gateway interface {
	Run(ctx context.Context, tenantID uuid.UUID, agent Name, input, out any) (Run, error)
}

// Run is one recorded call of an agent (a row of agent_runs).
type Run struct {
	ID            uuid.UUID `json:"id"`
	Object        string    `json:"object"` // "agent_run"
	Agent         Name      `json:"agent"`
	Provider      string    `json:"provider"` // mcp, gemini or builtin
	Model         string    `json:"model"`
	PromptVersion string    `json:"prompt_version"`
	CacheHit      bool      `json:"cache_hit"`
	Outcome       string    `json:"outcome"` // succeeded, repaired, invalid_output, failed, over_budget, disabled
	Error         *string   `json:"error"`
	Attempts      int       `json:"attempts"`
	LatencyMs     int64     `json:"latency_ms"`
	TokensIn      int64     `json:"tokens_in"`
	TokensOut     int64     `json:"tokens_out"`
	// CostMicros is the provider's price of the call in millionths of the tenant's base
	// currency's major unit; a cache hit costs nothing.
	CostMicros int64     `json:"cost_micros"`
	CreatedAt  time.Time `json:"created_at"`
}

// APExtractInput is what the AP agent reads: the bill as text, and the tenant's
// vendors to match it against (id, name, tax id). DefaultCurrency (the tenant's base
// currency) is the bill's currency when the document shows none; ReceivedOn (the day
// the document arrived) its issue date when it shows no date at all. Both are
// optional.
type APExtractInput struct {
	Text            string         `json:"text"`
	Vendors         []VendorOption `json:"vendors"`
	DefaultCurrency string         `json:"default_currency,omitempty"`
	ReceivedOn      *civil.Date    `json:"received_on,omitempty"`
}

// VendorOption is a known vendor the extraction may match.
type VendorOption struct {
	ID    uuid.UUID `json:"id"`
	Name  string    `json:"name"`
	TaxID *string   `json:"tax_id"`
}

// APExtraction is a draft bill extracted from a document, with a confidence in [0, 1]
// per field ("vendor", "number", "issue_date", "due_date", "currency", "lines",
// "total_minor").
type APExtraction struct {
	Vendor     ExtractedVendor    `json:"vendor"`
	Number     *string            `json:"number"`
	IssueDate  civil.Date         `json:"issue_date"`
	DueDate    *civil.Date        `json:"due_date"`
	Currency   string             `json:"currency"`
	Lines      []ExtractedLine    `json:"lines"`
	TotalMinor int64              `json:"total_minor"`
	Confidence map[string]float64 `json:"confidence"`
}

// ExtractedVendor is the vendor as the document names it, and the known vendor it
// matches when there is one (nil: a new vendor).
type ExtractedVendor struct {
	Name      string     `json:"name"`
	TaxID     *string    `json:"tax_id"`
	MatchedID *uuid.UUID `json:"matched_id"`
}

// ExtractedLine is one line of the bill, priced in minor units.
type ExtractedLine struct {
	Description     string  `json:"description"`
	Quantity        string  `json:"quantity"`
	UnitAmountMinor int64   `json:"unit_amount_minor"`
	TaxRate         *string `json:"tax_rate"`
}

// ARCollectionsInput is one overdue customer as the AR agent sees it: its aging line,
// its payment history and the dunning stage the tenant's schedule puts it in.
type ARCollectionsInput struct {
	CounterpartyID   uuid.UUID         `json:"counterparty_id"`
	CounterpartyName string            `json:"counterparty_name"`
	Currency         string            `json:"currency"`
	OverdueMinor     int64             `json:"overdue_minor"`
	OldestDaysLate   int               `json:"oldest_days_late"`
	Invoices         []OverdueInvoice  `json:"invoices"`
	MedianDaysToPay  *float64          `json:"median_days_to_pay"`
	Stage            string            `json:"stage"`
	History          []PaymentEvidence `json:"history"`
}

// OverdueInvoice is an invoice the message may cite.
type OverdueInvoice struct {
	ID             uuid.UUID  `json:"id"`
	Number         string     `json:"number"`
	DueDate        civil.Date `json:"due_date"`
	AmountDueMinor int64      `json:"amount_due_minor"`
}

// PaymentEvidence is one past payment, for the message's tone.
type PaymentEvidence struct {
	InvoiceNumber string     `json:"invoice_number"`
	DueDate       civil.Date `json:"due_date"`
	PaidOn        civil.Date `json:"paid_on"`
	DaysLate      int        `json:"days_late"`
}

// CollectionMessage is the AR agent's draft, citing the invoices it is about.
type CollectionMessage struct {
	Subject         string      `json:"subject"`
	Body            string      `json:"body"`
	Stage           string      `json:"stage"`
	CitedInvoiceIDs []uuid.UUID `json:"cited_invoice_ids"`
}

// ForecastNarrativeInput is the forecast the narrative explains: the report as the
// cash-forecast endpoint returns it (JSON), so every number comes from it.
type ForecastNarrativeInput struct {
	Forecast any `json:"forecast"`
}

// ForecastNarrative explains the forecast. CitedAmountsMinor lists every amount the
// text cites; each must be a number present in the forecast (a test holds it so).
type ForecastNarrative struct {
	Summary           string   `json:"summary"`
	Drivers           []string `json:"drivers"`
	Risks             []string `json:"risks"`
	CitedAmountsMinor []int64  `json:"cited_amounts_minor"`
}
