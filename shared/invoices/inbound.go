package invoices

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/patch"
)

// InboundMessage is one version of one document that a tenant's upstream system (an
// ERP) publishes on ledgerline-inbound-invoices, as JSON:
//
//	{"tenant_id": "0192…", "source": "netsuite", "external_id": "INV-7781", "version": 3,
//	 "invoice": {"direction": "receivable", "counterparty_id": "0192…", "currency": "USD",
//	             "issue_date": "2026-11-01", "due_date": "2026-12-01", "memo": "March",
//	             "status": "draft",
//	             "lines": [{"description": "Consulting", "quantity": "3", "unit_amount_minor": 15000}]}}
//
// Source names the sending system (lower-case letters, digits, '.', '_', '-'; at most
// 64), ExternalID the document there (1 to 128 characters; it becomes the invoice's
// external_id, which is unique in the tenant), and Version must grow with every change
// of the document at the source. The first version creates the invoice; a later one
// replaces it while it is a draft; versions that arrive after it was issued are
// recorded and ignored, and older or repeated ones change nothing.
type InboundMessage struct {
	TenantID   uuid.UUID      `json:"tenant_id"`
	Source     string         `json:"source"`
	ExternalID string         `json:"external_id"`
	Version    int64          `json:"version"`
	Invoice    InboundInvoice `json:"invoice"`
}

// InboundInvoice is the document: the members of POST /v1/invoices but external_id.
// Without due_date the due date follows from the counterparty's payment terms; status
// is draft (default) or open, which issues the invoice.
type InboundInvoice struct {
	Direction      Direction   `json:"direction"`
	CounterpartyID uuid.UUID   `json:"counterparty_id"`
	Currency       string      `json:"currency"`
	IssueDate      civil.Date  `json:"issue_date"`
	DueDate        *civil.Date `json:"due_date"`
	Memo           *string     `json:"memo"`
	Status         *Status     `json:"status"`
	Lines          []LineInput `json:"lines"`
}

// InboundConsumer is the processor's name: its audit actor and its dedupe namespace.
const InboundConsumer = "InboundInvoices"

// InboundOutcome is what applying a message did.
type InboundOutcome string

const (
	InboundCreated       InboundOutcome = "created"        // the first version created the invoice
	InboundReplaced      InboundOutcome = "replaced"       // a newer version replaced the draft
	InboundStale         InboundOutcome = "stale"          // an older or the same version: nothing to do
	InboundDuplicate     InboundOutcome = "duplicate"      // this message was processed before
	InboundIgnored       InboundOutcome = "ignored"        // the invoice was issued already: recorded only
	InboundRejected      InboundOutcome = "rejected"       // the message is invalid: recorded only
	InboundUnknownTenant InboundOutcome = "unknown_tenant" // no such tenant: nothing can be recorded
)

// InboundResult reports an applied message.
type InboundResult struct {
	Outcome   InboundOutcome
	InvoiceID uuid.UUID // when the message named an existing or created invoice
	Reason    string    // why it was rejected or ignored
}

// InboundTenant reads the tenant a message claims to be for. It is only a claim:
// ApplyInbound checks that the tenant exists.
func InboundTenant(data []byte) (uuid.UUID, bool) {
	var head struct {
		TenantID string `json:"tenant_id"`
	}
	if json.Unmarshal(data, &head) != nil {
		return uuid.Nil, false
	}
	id, err := uuid.Parse(head.TenantID)
	if err != nil || id == uuid.Nil {
		return uuid.Nil, false
	}
	return id, true
}

var sourcePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// decodeInbound decodes data strictly, as the API decodes a request: an unknown member
// is more likely a mistake at the source than something to drop silently.
func decodeInbound(data []byte) (InboundMessage, error) {
	var m InboundMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return InboundMessage{}, apperr.Wrap(err, apperr.Invalid, "malformed_message", "the message is not a valid inbound invoice: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return InboundMessage{}, apperr.New(apperr.Invalid, "malformed_message", "the message must hold a single JSON object")
	}
	f := apperr.Fields{}
	if !sourcePattern.MatchString(m.Source) {
		f.Add("source", "must be 1 to 64 lower-case letters, digits, '.', '_' or '-'")
	}
	if m.ExternalID == "" || len(m.ExternalID) > 128 {
		f.Add("external_id", "must be 1 to 128 characters")
	}
	if m.Version < 1 {
		f.Add("version", "must be an integer of at least 1")
	}
	if err := f.Err(); err != nil {
		return InboundMessage{}, err
	}
	return m, nil
}

// ApplyInbound applies one inbound message for actor's tenant (see InboundMessage),
// deduplicated on dedupeKey, in one transaction: the claim, the invoice's change with
// its audit and outbox records, or the record of a rejection commit together. It
// returns an error only for failures worth a redelivery; everything the message itself
// gets wrong is recorded and reported in the result.
func (s *Service) ApplyInbound(ctx context.Context, actor audit.Actor, dedupeKey string, data []byte) (InboundResult, error) {
	tenantID := actor.TenantID
	var res InboundResult
	err := s.DB.InTenantTx(ctx, tenantID, func(tx pgx.Tx) error {
		res = InboundResult{}
		var exists bool
		b := &pgx.Batch{}
		queueTenantExists(b, tenantID, &exists)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !exists {
			res.Outcome = InboundUnknownTenant
			return nil
		}
		first, err := db.ClaimMessage(ctx, tx, tenantID, InboundConsumer, dedupeKey)
		if err != nil {
			return err
		}
		if !first {
			res.Outcome = InboundDuplicate
			return nil
		}
		m, err := decodeInbound(data)
		if err != nil {
			return s.rejectInbound(ctx, tx, tenantID, dedupeKey, data, uuid.Nil, err, InboundRejected, &res)
		}
		if m.TenantID != tenantID {
			return errors.New("invoices: inbound message read for another tenant")
		}

		var cur inboundState
		var found bool
		b = &pgx.Batch{}
		queueLockInbound(b, tenantID, m.ExternalID, &cur, &found)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return s.applyInbound(ctx, tx, actor, dedupeKey, data, m, func(ctx context.Context) (Invoice, error) {
				return s.Create(ctx, actor, m.createInput())
			}, InboundCreated, &res)
		}
		res.InvoiceID = cur.ID
		switch {
		case cur.Source == nil || *cur.Source != m.Source:
			return s.rejectInbound(ctx, tx, tenantID, dedupeKey, data, cur.ID, apperr.New(apperr.Conflict, "invoice_external_id_exists",
				fmt.Sprintf("external_id %q belongs to an invoice that did not come from source %q", m.ExternalID, m.Source)),
				InboundRejected, &res)
		case m.Version <= *cur.SourceVersion:
			res.Outcome = InboundStale
			return nil
		case cur.Status != Draft:
			return s.rejectInbound(ctx, tx, tenantID, dedupeKey, data, cur.ID, notDraft(cur.Status), InboundIgnored, &res)
		}
		return s.applyInbound(ctx, tx, actor, dedupeKey, data, m, func(ctx context.Context) (Invoice, error) {
			return s.replaceDraft(ctx, actor, cur, m.Invoice)
		}, InboundReplaced, &res)
	})
	if err != nil {
		return InboundResult{}, err
	}
	return res, nil
}

// applyInbound runs change (a use case of this service, joined to tx) inside a
// savepoint and stamps the invoice with the message's source version. When the use case
// refuses the document, the savepoint is rolled back and the refusal recorded instead.
func (s *Service) applyInbound(ctx context.Context, tx pgx.Tx, actor audit.Actor, dedupeKey string, data []byte,
	m InboundMessage, change func(ctx context.Context) (Invoice, error), outcome InboundOutcome, res *InboundResult) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	inv, err := change(db.WithTx(ctx, actor.TenantID, sp))
	if err != nil {
		if rbErr := sp.Rollback(ctx); rbErr != nil {
			return rbErr
		}
		if !refusesDocument(err) {
			return err
		}
		return s.rejectInbound(ctx, tx, actor.TenantID, dedupeKey, data, res.InvoiceID, err, InboundRejected, res)
	}
	if err := sp.Commit(ctx); err != nil {
		return err
	}
	b := &pgx.Batch{}
	queueSetSource(b, actor.TenantID, inv.ID, m.Source, m.Version)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	res.Outcome, res.InvoiceID = outcome, inv.ID
	return nil
}

// refusesDocument tells a refusal of the document itself, which no redelivery can
// change, from a failure worth retrying. A conflict is retried: with the invoice
// locked it can only be an invoice created through the API with the same external_id
// in the meantime, which the redelivery then finds and refuses cleanly.
func refusesDocument(err error) bool {
	switch apperr.KindOf(err) {
	case apperr.Invalid, apperr.Unprocessable:
		return true
	}
	return false
}

// rejectInbound records why a message changed nothing, in tx (after the claim).
func (s *Service) rejectInbound(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, dedupeKey string, data []byte,
	invoiceID uuid.UUID, cause error, outcome InboundOutcome, res *InboundResult) error {
	e := apperr.From(cause)
	var head struct {
		Source     string `json:"source"`
		ExternalID string `json:"external_id"`
		Version    int64  `json:"version"`
	}
	// Best effort: whatever of the message's identity can be read is kept with it.
	_ = json.Unmarshal(data, &head)
	r := inboundRejection{
		ID: uuid.Must(uuid.NewV7()), MessageID: dedupeKey, Source: text(head.Source, 64),
		ExternalID: text(head.ExternalID, 128), Code: e.Code, Detail: *text(reason(e), 4000), Payload: data,
		ReceivedAt: s.now(),
	}
	if head.Version > 0 {
		r.SourceVersion = &head.Version
	}
	if invoiceID != uuid.Nil {
		r.InvoiceID = &invoiceID
	}
	if r.Payload == nil {
		r.Payload = []byte{}
	}
	b := &pgx.Batch{}
	queueInsertRejection(b, tenantID, r)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	res.Outcome, res.Reason = outcome, r.Detail
	return nil
}

// reason is a refusal as people read it: its message and each field's problem.
func reason(e *apperr.Error) string {
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := []string{e.Message}
	for _, name := range names {
		parts = append(parts, name+": "+e.Fields[name])
	}
	return strings.Join(parts, "; ")
}

// text makes s storable as PostgreSQL text (valid UTF-8 without NUL, at most max
// runes); nil when empty. A rejection must always be recordable, or the message it
// describes would be redelivered forever.
func text(s string, max int) *string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if r := []rune(s); len(r) > max {
		s = string(r[:max])
	}
	if s == "" {
		return nil
	}
	return &s
}

// createInput is the first version as the API's create request.
func (m InboundMessage) createInput() CreateInput {
	in := m.Invoice
	return CreateInput{
		Direction: in.Direction, CounterpartyID: in.CounterpartyID, Currency: in.Currency, IssueDate: in.IssueDate,
		DueDate: in.DueDate, Status: in.Status, Memo: in.Memo, ExternalID: &m.ExternalID, Lines: in.Lines,
	}
}

// replaceDraft replaces every member of the draft cur with in through Update, as a
// merge patch that sets all of them: a member the new version leaves out is cleared
// (memo) or derived again (the due date, from the counterparty's terms). A version
// whose status is open then finalizes the draft.
func (s *Service) replaceDraft(ctx context.Context, actor audit.Actor, cur inboundState, in InboundInvoice) (Invoice, error) {
	f := apperr.Fields{}
	if in.Direction != cur.Direction {
		f.Add("direction", "must stay "+string(cur.Direction)+": a draft's direction cannot change")
	}
	if in.Status != nil && *in.Status != Draft && *in.Status != Open {
		f.Add("status", "must be draft or open")
	}
	if in.CounterpartyID == uuid.Nil {
		f.Add("counterparty_id", "is required")
	}
	if err := f.Err(); err != nil {
		return Invoice{}, err
	}
	due := in.DueDate
	if due == nil {
		var cp counterparties.Counterparty
		var found bool
		if err := s.DB.Read(ctx, actor.TenantID, func(b *pgx.Batch) {
			counterparties.QueueGet(b, actor.TenantID, in.CounterpartyID, &cp, &found)
		}); err != nil {
			return Invoice{}, err
		}
		if !found {
			return Invoice{}, apperr.Validation(map[string]string{"counterparty_id": "no such counterparty"})
		}
		d := in.IssueDate.AddDays(cp.PaymentTermsDays)
		due = &d
	}
	upd := UpdateInput{
		CounterpartyID: set(in.CounterpartyID),
		Currency:       set(in.Currency),
		IssueDate:      set(in.IssueDate),
		DueDate:        set(*due),
		Memo:           patch.Field[string]{Set: true, Null: in.Memo == nil},
		Lines:          set(in.Lines),
	}
	if in.Memo != nil {
		upd.Memo.Value = *in.Memo
	}
	inv, err := s.Update(ctx, actor, cur.ID, cur.Version, upd)
	if err != nil {
		return Invoice{}, err
	}
	if in.Status != nil && *in.Status == Open {
		return s.Finalize(ctx, actor, inv.ID)
	}
	return inv, nil
}

func set[T any](v T) patch.Field[T] { return patch.Field[T]{Set: true, Value: v} }
