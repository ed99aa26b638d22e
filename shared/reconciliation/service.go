package reconciliation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/features"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/payments"
	"github.com/ledgerline/ledgerline/shared/tracing"
)

// Consumer is the processor's name: its consumer name for message dedupe and its actor
// id in the audit trail.
const Consumer = "InboundPayments"

// Service is the reconciliation use cases.
type Service struct {
	DB       *db.DB
	Payments *payments.Service
	Now      func() time.Time
	// Features says whether the tenant lets matches be allocated without asking
	// (features.AutoReconcile); nil reads the flag from the database on each payment.
	Features *features.Service
}

// NewService builds the service over a pool and a clock.
func NewService(pool *db.DB, now func() time.Time) *Service {
	return &Service{DB: pool, Payments: &payments.Service{DB: pool, Now: now}, Now: now}
}

// Result says what became of an inbound payment message.
type Result string

const (
	Allocated Result = "allocated" // the payment was recorded and allocated
	Suggested Result = "suggested" // the payment was recorded with pending suggestions
	Unmatched Result = "unmatched" // the payment was recorded; no invoice fits well enough to suggest
	Duplicate Result = "duplicate" // the message, or the bank transaction, was already recorded
	Refused   Result = "refused"   // the message can never be processed; recorded in inbound_payment_rejections
	NoTenant  Result = "no_tenant" // the message names no existing tenant, so it can only be logged
)

// Outcome is what Receive did with a message.
type Outcome struct {
	Result    Result
	TenantID  uuid.UUID // when the message names one
	PaymentID uuid.UUID // when a payment was recorded
	Reason    string    // why, when refused or without a tenant
}

// Receive processes one inbound payment message. It returns an error only for
// transient failures, when the message should be delivered again; every other outcome,
// including a message that can never be processed, is final. The payment, its
// allocations or suggestions, and the message's dedupe claim commit together, so a
// redelivered message finds the claim and does nothing.
func (s *Service) Receive(ctx context.Context, messageID string, body []byte) (Outcome, error) {
	var head struct {
		TenantID string `json:"tenant_id"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return Outcome{Result: NoTenant, Reason: "the body is not a JSON object with a string tenant_id"}, nil
	}
	tenantID, err := uuid.Parse(head.TenantID)
	if err != nil || tenantID == uuid.Nil {
		return Outcome{Result: NoTenant, Reason: "tenant_id is not an id"}, nil
	}
	// Between the reads that decide and the writes, an invoice may be paid or a
	// counterparty changed, and the payments domain refuses the write; deciding again on
	// the new state settles it.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		out, err := s.receive(ctx, tenantID, messageID, body)
		if !errors.Is(err, errStale) {
			return out, err
		}
		if attempt == attempts {
			return Outcome{}, apperr.Wrap(err, apperr.Unavailable, "concurrent_update", "the payment's invoices or counterparty kept changing; retry")
		}
	}
}

var (
	errStale      = errors.New("reconciliation: rows changed while the payment was matched")
	errNotPending = errors.New("reconciliation: suggestion no longer pending")
)

// maxStoredBody bounds the message body kept with a rejection.
const maxStoredBody = 64 << 10

func (s *Service) receive(ctx context.Context, tenantID uuid.UUID, messageID string, body []byte) (Outcome, error) {
	out := Outcome{TenantID: tenantID}
	actor := audit.Actor{TenantID: tenantID, Type: "system", ID: Consumer, RequestID: httpx.RequestID(ctx),
		TraceParent: tracing.TraceParent(ctx)}
	now := s.now()
	err := s.DB.InTenantTx(ctx, tenantID, func(tx pgx.Tx) error {
		// A retried transaction starts over.
		out = Outcome{TenantID: tenantID}
		ctx := db.WithTx(ctx, tenantID, tx)
		var settingsDoc []byte
		var exists bool
		b := &pgx.Batch{}
		queueTenantSettings(b, tenantID, now, &settingsDoc, &exists)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !exists {
			out.Result, out.Reason = NoTenant, "no such tenant"
			return nil
		}
		first, err := db.ClaimMessage(ctx, tx, tenantID, Consumer, messageID)
		if err != nil {
			return err
		}
		if !first {
			out.Result = Duplicate
			return nil
		}
		in, create, err := decodeInbound(body)
		if err != nil {
			out.Result, out.Reason = Refused, err.Error()
			return s.queueRejection(ctx, tx, tenantID, messageID, in, "invalid_message", err, body, now)
		}
		_, recorded, err := s.Payments.GetByExternalID(ctx, tenantID, in.ExternalID)
		if err != nil {
			return err
		}
		if recorded {
			out.Result = Duplicate
			return nil
		}

		cp, err := s.counterparty(ctx, tx, tenantID, in, create.Direction)
		if err != nil {
			out.Result, out.Reason = Refused, err.Error()
			return s.queueRejection(ctx, tx, tenantID, messageID, in, "counterparty_unresolved", err, body, now)
		}
		create.CounterpartyID = cp

		// Score against the invoices as they are now; the allocation below checks them
		// again on locked rows.
		settings := ParseSettings(settingsDoc)
		p := payments.Summary{Direction: create.Direction, CounterpartyID: cp, AmountMinor: create.AmountMinor, Currency: create.Currency}
		var invoices []Invoice
		b = &pgx.Batch{}
		queueCandidates(b, tenantID, p, strings.ToUpper(in.Reference), settings.ToleranceMinor, &invoices)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		match := Match(Payment{AmountMinor: create.AmountMinor, ValueDate: create.ValueDate, Reference: in.Reference, CounterpartyID: cp}, invoices, settings)
		if match.Auto {
			// A tenant that turned auto-reconciliation off gets the match as a suggestion
			// like any other, for a person to accept.
			flags := s.Features
			if flags == nil {
				flags = &features.Service{DB: s.DB}
			}
			if match.Auto, err = flags.Enabled(ctx, tenantID, features.AutoReconcile); err != nil {
				return err
			}
		}
		if match.Auto {
			// Allocated as the payment is created, in one call: the payments domain locks
			// the invoices before it appends to the audit trail, the order every money
			// movement keeps.
			for _, a := range match.Candidates[0].Amounts {
				create.Allocations = append(create.Allocations, payments.AllocationInput{InvoiceID: a.InvoiceID, AmountMinor: a.AmountMinor})
			}
		}
		created, err := s.Payments.Create(ctx, actor, create)
		if err != nil {
			e := apperr.From(err)
			switch {
			case e.Code == "payment_external_id_exists":
				// The same transaction arrived twice at once; the other copy recorded it.
				out.Result = Duplicate
			case refusable(e):
				// Everything was checked above, so the rows it was checked on changed
				// since (an invoice was paid, the counterparty edited): start over.
				return errStale
			}
			return err
		}
		out.PaymentID = created.ID
		switch {
		case match.Auto:
			out.Result = Allocated
			return nil
		case len(match.Candidates) == 0:
			out.Result = Unmatched
			return nil
		}
		out.Result = Suggested
		log := changes.New(actor, now)
		b = &pgx.Batch{}
		for _, c := range match.Candidates {
			sg := newSuggestion(created.Summary, c, now)
			if err := queueInsertSuggestion(b, tenantID, sg); err != nil {
				return err
			}
			log.Add(changes.Change{Type: "reconciliation_suggestion.created", EntityType: "reconciliation_suggestion",
				EntityID: sg.ID, Version: versionCreated, After: sg})
		}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil && out.Result != Duplicate {
		return Outcome{}, err
	}
	return out, nil
}

// refusable tells the payments domain's refusal of a request from a failure to carry
// it out.
func refusable(e *apperr.Error) bool {
	switch e.Kind {
	case apperr.Invalid, apperr.Unprocessable, apperr.Conflict, apperr.NotFound:
		return true
	}
	return false
}

// counterparty resolves the counterparty an inbound payment names.
func (s *Service) counterparty(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, in InboundPayment, d payments.Direction) (uuid.UUID, error) {
	var id *uuid.UUID
	switch {
	case in.CounterpartyID != "":
		v := uuid.MustParse(in.CounterpartyID)
		id = &v
	case in.CounterpartyName == "":
		return uuid.Nil, apperr.New(apperr.Unprocessable, "counterparty_unresolved", "the message names no counterparty")
	}
	var found []uuid.UUID
	b := &pgx.Batch{}
	queueCounterparties(b, tenantID, id, in.CounterpartyName, d, &found)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return uuid.Nil, err
	}
	kinds := "counterparty of kind " + strings.Join(kindsFor(d), " or ")
	switch {
	case len(found) == 1:
		return found[0], nil
	case id != nil:
		return uuid.Nil, apperr.New(apperr.Unprocessable, "counterparty_unresolved",
			fmt.Sprintf("%s is not the id of a %s", id, kinds))
	case len(found) == 0:
		return uuid.Nil, apperr.New(apperr.Unprocessable, "counterparty_unresolved",
			fmt.Sprintf("no %s is named %q", kinds, in.CounterpartyName))
	default:
		return uuid.Nil, apperr.New(apperr.Unprocessable, "counterparty_unresolved",
			fmt.Sprintf("more than one %s is named %q", kinds, in.CounterpartyName))
	}
}

// queueRejection records a refused message in tx.
func (s *Service) queueRejection(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, messageID string, in InboundPayment, reason string, cause error, body []byte, at time.Time) error {
	e := apperr.From(cause)
	stored := string(body)
	if len(stored) > maxStoredBody {
		stored = stored[:maxStoredBody]
	}
	r := rejection{
		messageID: messageID, externalID: in.ExternalID, reason: reason, body: strings.ToValidUTF8(stored, "\uFFFD"),
		detail: map[string]any{"code": e.Code, "message": e.Message, "errors": e.Fields},
	}
	if len(r.externalID) > 128 {
		// Too long to be an id: it is one of the message's faults, and the body keeps it.
		r.externalID = ""
	}
	b := &pgx.Batch{}
	if err := queueInsertRejection(b, tenantID, r, at); err != nil {
		return err
	}
	return tx.SendBatch(ctx, b).Close()
}

// List returns a page of suggestions, newest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f ListFilter, p page.Params) (page.List[Suggestion], error) {
	var rows []Suggestion
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueList(b, tenantID, f, p, &rows) }); err != nil {
		return page.List[Suggestion]{}, err
	}
	return page.Of(rows, p.Limit), nil
}

// Accept allocates the payment as the suggestion says, as actor, and marks it
// accepted; the payment's other pending suggestions are superseded. The allocation is
// the payments domain's, with its rules and errors: an invoice paid in the meantime
// refuses it, and nothing is decided.
func (s *Service) Accept(ctx context.Context, actor audit.Actor, id uuid.UUID) (Suggestion, error) {
	now := s.now()
	var out Suggestion
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var group []Suggestion
		b := &pgx.Batch{}
		queueLockPaymentSuggestions(b, actor.TenantID, id, &group)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		target, err := pending(group, id)
		if err != nil {
			return err
		}
		in := payments.AllocateInput{}
		for _, a := range target.Amounts {
			in.Allocations = append(in.Allocations, payments.AllocationInput{InvoiceID: a.InvoiceID, AmountMinor: a.AmountMinor})
		}
		if _, err := s.Payments.Allocate(db.WithTx(ctx, actor.TenantID, tx), actor, target.PaymentID, in); err != nil {
			return err
		}
		log := changes.New(actor, now)
		b = &pgx.Batch{}
		for _, sg := range group {
			status := Superseded
			switch {
			case sg.ID == target.ID:
				status = Accepted
			case sg.Status != Pending:
				continue
			}
			after := sg.decided(status, actor.ID, now)
			queueDecide(b, actor.TenantID, after)
			log.Add(changes.Change{Type: "reconciliation_suggestion." + string(status), EntityType: "reconciliation_suggestion",
				EntityID: sg.ID, Version: versionDecided, Before: sg, After: after})
			if sg.ID == target.ID {
				out = after
			}
		}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return out, err
}

// Reject marks a pending suggestion rejected; nothing is allocated.
func (s *Service) Reject(ctx context.Context, actor audit.Actor, id uuid.UUID) (Suggestion, error) {
	now := s.now()
	var out Suggestion
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var rows []Suggestion
		b := &pgx.Batch{}
		queueLockSuggestion(b, actor.TenantID, id, &rows)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		target, err := pending(rows, id)
		if err != nil {
			return err
		}
		out = target.decided(Rejected, actor.ID, now)
		log := changes.New(actor, now)
		log.Add(changes.Change{Type: "reconciliation_suggestion.rejected", EntityType: "reconciliation_suggestion",
			EntityID: id, Version: versionDecided, Before: target, After: out})
		b = &pgx.Batch{}
		queueDecide(b, actor.TenantID, out)
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return out, err
}

// pending finds suggestion id among the locked rows and checks it can still be decided.
func pending(rows []Suggestion, id uuid.UUID) (Suggestion, error) {
	for _, sg := range rows {
		if sg.ID != id {
			continue
		}
		if sg.Status != Pending {
			return Suggestion{}, apperr.New(apperr.Conflict, "suggestion_not_pending", "the suggestion is already "+string(sg.Status))
		}
		return sg, nil
	}
	return Suggestion{}, apperr.NotFoundf("suggestion")
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }
