package closing

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/aging"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/db"
)

// Service runs closes.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

// Tenants lists every tenant; s.DB must connect as the relay role.
func (s *Service) Tenants(ctx context.Context) ([]uuid.UUID, error) {
	ids, err := listTenants(ctx, s.DB.Pool)
	return ids, db.Map(err)
}

// Close runs tenant actor.TenantID's close for date, once: the claim on "close-<date>"
// commits with its effects, so a redelivered or repeated request changes nothing.
func (s *Service) Close(ctx context.Context, actor audit.Actor, date civil.Date) (Result, error) {
	var res Result
	now := s.Now().UTC().Truncate(time.Microsecond)
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		res = Result{}
		first, err := db.ClaimMessage(ctx, tx, actor.TenantID, Consumer, "close-"+date.String())
		if err != nil {
			return err
		}
		if !first {
			res.AlreadyClosed = true
			return nil
		}
		var settings []byte
		var overdue []Overdue
		var groups []overdueGroup
		b := &pgx.Batch{}
		// The settings the close runs with are those in effect when it runs.
		queueSettings(b, actor.TenantID, now, &settings)
		queueMarkOverdue(b, actor.TenantID, date, &overdue)
		queueOverdueReceivables(b, actor.TenantID, date, &groups)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		proposals := propose(Schedule(settings), groups, date)
		created := make([]bool, len(proposals))
		b = &pgx.Batch{}
		for i, p := range proposals {
			queueInsertProposal(b, actor.TenantID, p, &created[i])
		}
		// The aging snapshot: both directions as of the close date, in the tenant's buckets.
		edges := aging.TenantEdges(settings)
		var receivables, payables aging.Report
		aging.QueueReport(b, actor.TenantID, aging.Params{Direction: aging.Receivable, AsOf: date, Basis: aging.DueDate}, edges, &receivables)
		aging.QueueReport(b, actor.TenantID, aging.Params{Direction: aging.Payable, AsOf: date, Basis: aging.DueDate}, edges, &payables)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		b = &pgx.Batch{}
		snaps := snapshots(receivables, payables)
		for _, snap := range snaps {
			queueInsertSnapshot(b, actor.TenantID, date, snap)
		}
		res.Snapshots = len(snaps)
		if b.Len() > 0 {
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}

		log := changes.New(actor, now)
		for _, o := range overdue {
			log.Add(changes.Change{Type: "invoice.overdue", EntityType: "invoice", EntityID: o.ID, Version: o.Version, After: o})
		}
		for i, p := range proposals {
			if created[i] {
				res.Proposals++
				log.Add(changes.Change{Type: "dunning_proposal.created", EntityType: "dunning_proposal", EntityID: p.ID, Version: 1, After: p})
			}
		}
		res.Overdue = len(overdue)
		b = &pgx.Batch{}
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return Result{}, fmt.Errorf("closing: tenant %s: %w", actor.TenantID, db.Map(err))
	}
	return res, nil
}

// propose turns each customer's overdue receivables into the proposal for the highest
// stage reached by its oldest overdue invoice (across currencies).
func propose(schedule []int, groups []overdueGroup, date civil.Date) []Proposal {
	var out []Proposal
	index := map[uuid.UUID]int{} // position in out: indexes stay valid as out grows
	oldest := map[uuid.UUID]civil.Date{}
	for _, g := range groups {
		i, ok := index[g.counterparty]
		if !ok {
			out = append(out, Proposal{ID: uuid.Must(uuid.NewV7()), Object: "dunning_proposal", CounterpartyID: g.counterparty,
				Status: "pending", CloseDate: date})
			i = len(out) - 1
			index[g.counterparty] = i
			oldest[g.counterparty] = g.oldestDue
		}
		if g.oldestDue.Before(oldest[g.counterparty]) {
			oldest[g.counterparty] = g.oldestDue
		}
		out[i].InvoiceIDs = append(out[i].InvoiceIDs, g.invoices...)
		out[i].AmountsDue = append(out[i].AmountsDue, AmountDue{Currency: g.currency, AmountDueMinor: g.amountDue})
	}
	var staged []Proposal
	for _, p := range out {
		p.DaysOverdue = date.DaysSince(oldest[p.CounterpartyID])
		if p.Stage = Stage(schedule, p.DaysOverdue); p.Stage > 0 {
			staged = append(staged, p)
		}
	}
	return staged
}
