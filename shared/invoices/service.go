package invoices

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/page"
)

// Service is the invoice use cases.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

// Create stores a draft, or an open invoice numbered at once, with its lines, audit and
// outbox records. Two round trips inside the transaction: one to read the counterparty
// (and take a number), one to write everything.
func (s *Service) Create(ctx context.Context, actor audit.Actor, in CreateInput) (Invoice, error) {
	d, err := prepare(in)
	if err != nil {
		return Invoice{}, err
	}
	now := s.Now().UTC().Truncate(time.Microsecond)
	inv := Invoice{Summary: Summary{
		ID: uuid.Must(uuid.NewV7()), Object: "invoice", Direction: in.Direction, Status: d.status,
		CounterpartyID: in.CounterpartyID, Currency: in.Currency, IssueDate: in.IssueDate, Memo: in.Memo,
		ExternalID: in.ExternalID, SubtotalMinor: d.subtotal, TaxMinor: d.tax, TotalMinor: d.total,
		AmountDueMinor: d.total, Version: 1, CreatedAt: now, UpdatedAt: now,
	}, Lines: d.lines}

	err = s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		var cp counterparties.Counterparty
		var found bool
		var number int64
		b := &pgx.Batch{}
		counterparties.QueueGet(b, actor.TenantID, in.CounterpartyID, &cp, &found)
		if d.status == Open {
			queueNextNumber(b, actor.TenantID, in.Direction, &number)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !found {
			return apperr.Validation(map[string]string{"counterparty_id": "no such counterparty"})
		}
		if err := checkCounterparty(in.Direction, cp); err != nil {
			return err
		}
		inv.DueDate = in.IssueDate.AddDays(cp.PaymentTermsDays)
		if in.DueDate != nil {
			inv.DueDate = *in.DueDate
		}
		if d.status == Open {
			n := Number(in.Direction, number)
			inv.Number, inv.FinalizedAt = &n, &now
		}

		ev, err := events.New(actor.TenantID, "invoice.created", "invoice", inv.ID, inv.Version, inv, actor.RequestID, now)
		if err != nil {
			return err
		}
		b = &pgx.Batch{}
		queueInsert(b, actor.TenantID, inv)
		events.Queue(b, ev)
		if err := audit.Queue(b, actor.Record("invoice.created", "invoice", inv.ID, nil, inv, now)); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if db.IsUniqueViolation(err, "invoices_tenant_id_external_id_key") {
		return Invoice{}, apperr.Wrap(err, apperr.Conflict, "invoice_external_id_exists",
			"an invoice with this external_id already exists")
	}
	if err != nil {
		return Invoice{}, db.Map(err)
	}
	return inv, nil
}

// checkCounterparty refuses to invoice a vendor or take a bill from a customer.
func checkCounterparty(d Direction, cp counterparties.Counterparty) error {
	if d == Receivable && cp.Kind == counterparties.Vendor {
		return apperr.New(apperr.Unprocessable, "counterparty_kind_mismatch", "a receivable invoice needs a customer; this counterparty is a vendor")
	}
	if d == Payable && cp.Kind == counterparties.Customer {
		return apperr.New(apperr.Unprocessable, "counterparty_kind_mismatch", "a payable bill needs a vendor; this counterparty is a customer")
	}
	return nil
}

// Get returns one invoice with its lines.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Invoice, error) {
	var inv Invoice
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueGet(b, tenantID, id, &inv, &found) }); err != nil {
		return Invoice{}, err
	}
	if !found {
		return Invoice{}, apperr.NotFoundf("invoice")
	}
	return inv, nil
}

// List returns a page of invoice summaries, newest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f ListFilter, p page.Params) (page.List[Summary], error) {
	var rows []Summary
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueList(b, tenantID, f, p, &rows) }); err != nil {
		return page.List[Summary]{}, err
	}
	return page.Of(rows, p.Limit), nil
}
