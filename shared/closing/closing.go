// Package closing holds the daily close: once a day each tenant's books are swept for
// invoices that became overdue (marked, with an event and an audit record each), for
// customers whose oldest overdue receivable reached a stage of the tenant's dunning
// schedule (a dunning proposal for a person to act on), and an aging snapshot of the
// open balances is stored. A tenant's close for a date runs at most once, whatever the
// redeliveries.
package closing

import (
	"encoding/json"
	"sort"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
)

// Consumer names the close in the processed-messages table.
const Consumer = "TenantClose"

// DefaultSchedule is the dunning schedule when a tenant sets none: reminders at 7, 14
// and 30 days overdue.
var DefaultSchedule = []int{7, 14, 30}

// Schedule reads settings.dunning_schedule (days overdue, ascending). Anything that is
// not a list of positive day counts falls back to the default rather than stopping the
// close: a bad setting must not silence collections.
func Schedule(settings []byte) []int {
	var s struct {
		Dunning []int `json:"dunning_schedule"`
	}
	if err := json.Unmarshal(settings, &s); err != nil || len(s.Dunning) == 0 {
		return DefaultSchedule
	}
	for _, d := range s.Dunning {
		if d <= 0 {
			return DefaultSchedule
		}
	}
	days := append([]int(nil), s.Dunning...)
	sort.Ints(days)
	return days
}

// Stage is how many stages of schedule daysOverdue has reached (0: none yet).
func Stage(schedule []int, daysOverdue int) int {
	n := 0
	for _, d := range schedule {
		if daysOverdue >= d {
			n++
		}
	}
	return n
}

// Request is the message that asks for one tenant's close.
type Request struct {
	TenantID  uuid.UUID  `json:"tenant_id"`
	CloseDate civil.Date `json:"close_date"`
}

// AmountDue is an overdue total in one currency.
type AmountDue struct {
	Currency       string `json:"currency"`
	AmountDueMinor int64  `json:"amount_due_minor"`
}

// Proposal is a dunning proposal.
type Proposal struct {
	ID             uuid.UUID   `json:"id"`
	Object         string      `json:"object"`
	CounterpartyID uuid.UUID   `json:"counterparty_id"`
	Stage          int         `json:"stage"`
	DaysOverdue    int         `json:"days_overdue"`
	InvoiceIDs     []uuid.UUID `json:"invoice_ids"`
	AmountsDue     []AmountDue `json:"amounts_due"`
	Status         string      `json:"status"`
	CloseDate      civil.Date  `json:"close_date"`
}

// Overdue is an invoice found overdue by a close.
type Overdue struct {
	ID             uuid.UUID  `json:"id"`
	Number         *string    `json:"number"`
	CounterpartyID uuid.UUID  `json:"counterparty_id"`
	Currency       string     `json:"currency"`
	AmountDueMinor int64      `json:"amount_due_minor"`
	DueDate        civil.Date `json:"due_date"`
	OverdueSince   civil.Date `json:"overdue_since"`
	Version        int        `json:"version"`
}

// Result summarises one tenant's close.
type Result struct {
	AlreadyClosed bool
	Overdue       int
	Proposals     int
	Snapshots     int // aging snapshots stored (one per direction and currency with balances)
}
