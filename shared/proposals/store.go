package proposals

import (
	"encoding/json"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
)

func dateArg(d civil.Date) time.Time { return d.In(time.UTC) }

const proposalColumns = `id, kind, status, content, rationale, evidence, flags, agent_run_id, collection_run_id,
       proposed_by_type, proposed_by, requested_by_type, requested_by, decided_by_type, decided_by, decided_at,
       decision_note, result, version, created_at, updated_at, subject_type, subject_id, currency, amount_minor,
       dunning_stage`

func scanProposal(row pgx.Row) (Proposal, error) {
	var p Proposal
	var content, result []byte
	var reqType, reqID, decType, decID, subjType, currency *string
	var subjID *uuid.UUID
	err := row.Scan(&p.ID, &p.Kind, &p.Status, &content, &p.Rationale, &p.Evidence, &p.Flags, &p.AgentRunID,
		&p.CollectionRunID, &p.ProposedBy.Type, &p.ProposedBy.ID, &reqType, &reqID, &decType, &decID, &p.DecidedAt,
		&p.DecisionNote, &result, &p.Version, &p.CreatedAt, &p.UpdatedAt, &subjType, &subjID, &currency,
		&p.subject.amountMinor, &p.subject.dunningStage)
	if err != nil {
		return Proposal{}, err
	}
	p.Object = "proposal"
	if reqType != nil && reqID != nil {
		p.RequestedBy = &Actor{Type: *reqType, ID: *reqID}
	}
	if decType != nil && decID != nil {
		p.DecidedBy = &Actor{Type: *decType, ID: *decID}
	}
	if subjType != nil && subjID != nil {
		p.subject.typ, p.subject.id = *subjType, *subjID
	}
	if currency != nil {
		p.subject.currency = *currency
	}
	if p.Flags == nil {
		p.Flags = []string{}
	}
	if result != nil {
		p.Result = &Result{}
		if err := json.Unmarshal(result, p.Result); err != nil {
			return Proposal{}, err
		}
	}
	p.Content, err = decodeContent(p.Kind, content)
	return p, err
}

func queueProposals(b *pgx.Batch, sql string, args []any, out *[]Proposal) {
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			p, err := scanProposal(rows)
			if err != nil {
				return err
			}
			*out = append(*out, p)
		}
		return rows.Err()
	})
}

func queueProposal(b *pgx.Batch, sql string, args []any, out *Proposal, found *bool) {
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			p, err := scanProposal(rows)
			if err != nil {
				return err
			}
			*out, *found = p, true
		}
		return rows.Err()
	})
}

func queueGet(b *pgx.Batch, tenantID, id uuid.UUID, out *Proposal, found *bool) {
	queueProposal(b, `SELECT `+proposalColumns+` FROM proposals WHERE tenant_id = $1 AND id = $2`, []any{tenantID, id}, out, found)
}

// queueLock reads a proposal with its row locked until commit: two approvals of one
// proposal queue on it, and the second finds it decided.
func queueLock(b *pgx.Batch, tenantID, id uuid.UUID, out *Proposal, found *bool) {
	queueProposal(b, `SELECT `+proposalColumns+` FROM proposals WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
		[]any{tenantID, id}, out, found)
}

// queueList reads a page, newest first; proposals_by_status serves the filtered lists.
func queueList(b *pgx.Batch, tenantID uuid.UUID, f ListFilter, p page.Params, out *[]Proposal) {
	w := db.NewWhere("tenant_id = ?", tenantID)
	if f.Status != nil {
		w.Add("status = ?", string(*f.Status))
	}
	if f.Kind != nil {
		w.Add("kind = ?", string(*f.Kind))
	}
	if f.CollectionRunID != nil {
		w.Add("collection_run_id = ?", *f.CollectionRunID)
	}
	if p.StartingAfter != nil {
		w.Add("id < ?", *p.StartingAfter)
	}
	limit := w.Arg(p.Limit + 1)
	queueProposals(b, `SELECT `+proposalColumns+` FROM proposals WHERE `+w.SQL()+` ORDER BY id DESC LIMIT `+limit, w.Args(), out)
}

func actorColumns(a *Actor) (*string, *string) {
	if a == nil {
		return nil, nil
	}
	return &a.Type, &a.ID
}

// queueInsert stores a new proposal. A collection message for a stage its customer
// already has one pending or approved for is not stored (inserted stays false): the
// partial unique index proposals_one_message_per_stage decides, also between racing runs.
func queueInsert(b *pgx.Batch, tenantID uuid.UUID, p Proposal, inserted *bool) error {
	content, err := json.Marshal(p.Content)
	if err != nil {
		return err
	}
	s := p.Content.subject()
	var subjType *string
	var subjID *uuid.UUID
	if s.typ != "" {
		subjType, subjID = &s.typ, &s.id
	}
	var currency *string
	if s.currency != "" {
		currency = &s.currency
	}
	reqType, reqID := actorColumns(p.RequestedBy)
	b.Queue(`INSERT INTO proposals (id, tenant_id, kind, status, content, rationale, evidence, flags, agent_run_id,
    collection_run_id, proposed_by_type, proposed_by, requested_by_type, requested_by, version, created_at, updated_at,
    subject_type, subject_id, currency, amount_minor, dunning_stage)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
ON CONFLICT (tenant_id, subject_id, currency, dunning_stage)
   WHERE kind = 'collection_message' AND status IN ('pending', 'approved') DO NOTHING`,
		p.ID, tenantID, p.Kind, p.Status, content, p.Rationale, []byte(p.Evidence), p.Flags, p.AgentRunID,
		p.CollectionRunID, p.ProposedBy.Type, p.ProposedBy.ID, reqType, reqID, p.Version, p.CreatedAt, p.UpdatedAt,
		subjType, subjID, currency, s.amountMinor, s.dunningStage).Exec(func(ct pgconn.CommandTag) error {
		*inserted = ct.RowsAffected() == 1
		return nil
	})
	return nil
}

// invoiceDue is what approving a write-off checks of its invoice.
type invoiceDue struct {
	status, currency string
	amountDueMinor   int64
}

// queueLockInvoiceDue reads an invoice's status and amount due with its row locked
// until commit.
func queueLockInvoiceDue(b *pgx.Batch, tenantID, id uuid.UUID, out *invoiceDue, found *bool) {
	b.Queue(`SELECT status, currency, amount_due_minor FROM invoices WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
		tenantID, id).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			if err := rows.Scan(&out.status, &out.currency, &out.amountDueMinor); err != nil {
				return err
			}
			*found = true
		}
		return rows.Err()
	})
}

// queueDecide writes a decision on a proposal that is still pending at its version.
func queueDecide(b *pgx.Batch, tenantID uuid.UUID, p Proposal, prevVersion int) error {
	content, err := json.Marshal(p.Content)
	if err != nil {
		return err
	}
	var result []byte
	if p.Result != nil {
		if result, err = json.Marshal(p.Result); err != nil {
			return err
		}
	}
	decType, decID := actorColumns(p.DecidedBy)
	s := p.Content.subject()
	b.Queue(`UPDATE proposals SET status = $3, content = $4, decided_by_type = $5, decided_by = $6, decided_at = $7,
       decision_note = $8, result = $9, version = $10, updated_at = $11, currency = $12, amount_minor = $13
 WHERE tenant_id = $1 AND id = $2 AND status = 'pending' AND version = $14`,
		tenantID, p.ID, p.Status, content, decType, decID, p.DecidedAt, p.DecisionNote, result, p.Version, p.UpdatedAt,
		nonEmpty(s.currency), s.amountMinor, prevVersion).Exec(func(ct pgconn.CommandTag) error {
		if ct.RowsAffected() != 1 {
			return errDecidedMeanwhile
		}
		return nil
	})
	return nil
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// messageKey is one customer's dunning stage in one currency.
type messageKey struct {
	counterparty uuid.UUID
	currency     string
	stage        int
}

// queueActiveMessages reads the stages the tenant's customers have a collection
// message pending or approved for.
func queueActiveMessages(b *pgx.Batch, tenantID uuid.UUID, out map[messageKey]uuid.UUID) {
	b.Queue(`SELECT subject_id, currency, dunning_stage, id FROM proposals
 WHERE tenant_id = $1 AND kind = 'collection_message' AND status IN ('pending', 'approved')`, tenantID).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k messageKey
				var id uuid.UUID
				if err := rows.Scan(&k.counterparty, &k.currency, &k.stage, &id); err != nil {
					return err
				}
				out[k] = id
			}
			return rows.Err()
		})
}

// queueSettings reads the tenant's settings document in effect at at (tenant_settings_at,
// migrations/00014), exact for the transaction's time.
func queueSettings(b *pgx.Batch, tenantID uuid.UUID, at time.Time, out *[]byte) {
	b.Queue(`SELECT settings FROM tenant_settings_at($1, $2)`, tenantID, at).QueryRow(func(row pgx.Row) error { return row.Scan(out) })
}

// maxVendorOptions bounds the vendors one extraction is shown.
const maxVendorOptions = 100

// queueVendors reads the vendors an extraction may match: those the document names (by
// name or tax id, ignoring case) first, then the others by name, up to
// maxVendorOptions. A vendor whose name appears in the text is the likely match; the
// others let the agent match a name written differently.
func queueVendors(b *pgx.Batch, tenantID uuid.UUID, text string, out *[]vendorOption) {
	b.Queue(`SELECT id, name, tax_id,
       strpos(lower($2), lower(name)) > 0 OR (tax_id IS NOT NULL AND strpos(lower($2), lower(tax_id)) > 0) AS named
  FROM counterparties
 WHERE tenant_id = $1 AND kind IN ('vendor', 'both')
 ORDER BY named DESC, name, id
 LIMIT $3`, tenantID, text, maxVendorOptions).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var v vendorOption
			if err := rows.Scan(&v.ID, &v.Name, &v.TaxID, &v.named); err != nil {
				return err
			}
			*out = append(*out, v)
		}
		return rows.Err()
	})
}

// overdueGroup is one customer's open receivables past due in one currency.
type overdueGroup struct {
	counterparty uuid.UUID
	name         string
	currency     string
	oldestDue    civil.Date
	amountMinor  int64
	invoices     int
}

// queueOverdueReceivables groups the open receivables past due on today by customer
// and currency (the close's own grouping: written-off invoices are not dunned); only
// the customers of ids when ids is not nil.
func queueOverdueReceivables(b *pgx.Batch, tenantID uuid.UUID, today civil.Date, ids []uuid.UUID, out *[]overdueGroup) {
	b.Queue(`SELECT i.counterparty_id, c.name, i.currency, min(i.due_date), sum(i.amount_due_minor), count(*)::int
  FROM invoices i
  JOIN counterparties c ON c.tenant_id = i.tenant_id AND c.id = i.counterparty_id
 WHERE i.tenant_id = $1 AND i.direction = 'receivable' AND i.status = 'open' AND i.due_date < $2
   AND i.amount_due_minor > 0 AND ($3::uuid[] IS NULL OR i.counterparty_id = ANY($3))
 GROUP BY i.counterparty_id, c.name, i.currency
 ORDER BY c.name, i.counterparty_id, i.currency`, tenantID, dateArg(today), ids).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var g overdueGroup
			var oldest time.Time
			if err := rows.Scan(&g.counterparty, &g.name, &g.currency, &oldest, &g.amountMinor, &g.invoices); err != nil {
				return err
			}
			g.oldestDue = civil.DateOf(oldest)
			*out = append(*out, g)
		}
		return rows.Err()
	})
}

// maxHistory bounds the past payments an AR draft is shown.
const maxHistory = 12

// queuePaymentHistory reads a customer's most recently paid receivables: each paid
// invoice's pay date is the latest effective date of its active allocations (as the
// cash forecast learns days to pay).
func queuePaymentHistory(b *pgx.Batch, tenantID, counterparty uuid.UUID, out *[]paymentRecord) {
	b.Queue(`SELECT i.number, i.due_date, max(a.effective_date)
  FROM invoices i
  JOIN allocations a ON a.tenant_id = i.tenant_id AND a.invoice_id = i.id AND a.reversed_at IS NULL
 WHERE i.tenant_id = $1 AND i.counterparty_id = $2 AND i.direction = 'receivable' AND i.status = 'paid'
 GROUP BY i.id, i.number, i.due_date
 ORDER BY max(a.effective_date) DESC, i.id DESC
 LIMIT $3`, tenantID, counterparty, maxHistory).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var r paymentRecord
			var number *string
			var due, paid time.Time
			if err := rows.Scan(&number, &due, &paid); err != nil {
				return err
			}
			if number != nil {
				r.number = *number
			}
			r.due, r.paid = civil.DateOf(due), civil.DateOf(paid)
			*out = append(*out, r)
		}
		return rows.Err()
	})
}

// The dunning proposals of the daily close (migrations/00008): a collection message
// approved for a stage is that stage's reminder sent, so the close's proposal for the
// customer and stage is approved with it (or recorded approved when the close has
// not proposed it yet, so the close never proposes a stage already handled).

// dunningRow is a dunning proposal as approving a message reads it.
type dunningRow struct {
	id     uuid.UUID
	status string
}

func queueLockDunning(b *pgx.Batch, tenantID, counterparty uuid.UUID, stage int, out *dunningRow, found *bool) {
	b.Queue(`SELECT id, status FROM dunning_proposals WHERE tenant_id = $1 AND counterparty_id = $2 AND stage = $3 FOR UPDATE`,
		tenantID, counterparty, stage).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			if err := rows.Scan(&out.id, &out.status); err != nil {
				return err
			}
			*found = true
		}
		return rows.Err()
	})
}

// dunningAmount is the amounts_due member of a dunning proposal.
type dunningAmount struct {
	Currency       string `json:"currency"`
	AmountDueMinor int64  `json:"amount_due_minor"`
}

func queueInsertApprovedDunning(b *pgx.Batch, tenantID uuid.UUID, id uuid.UUID, m *CollectionMessageContent, today civil.Date) {
	b.Queue(`INSERT INTO dunning_proposals (id, tenant_id, counterparty_id, stage, days_overdue, invoice_ids, amounts_due, status, close_date)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'approved', $8)`,
		id, tenantID, m.CounterpartyID, m.Stage, m.DaysOverdue, m.CitedInvoiceIDs,
		[]dunningAmount{{Currency: m.Currency, AmountDueMinor: m.OverdueMinor}}, dateArg(today))
}

func queueApproveDunning(b *pgx.Batch, tenantID, id uuid.UUID) {
	b.Queue(`UPDATE dunning_proposals SET status = 'approved' WHERE tenant_id = $1 AND id = $2`, tenantID, id)
}

// Collection runs.

const runColumns = `id, mode, status, as_of, items_total, items_done, requested_by_type, requested_by, request_id,
       trace_parent, created_at, updated_at, finished_at`

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	var asOf time.Time
	var requestID, traceParent *string
	err := row.Scan(&r.ID, &r.Mode, &r.Status, &asOf, &r.ItemsTotal, &r.ItemsDone, &r.RequestedBy.Type, &r.RequestedBy.ID,
		&requestID, &traceParent, &r.CreatedAt, &r.UpdatedAt, &r.FinishedAt)
	r.Object, r.AsOf = "collections_run", civil.DateOf(asOf)
	if requestID != nil {
		r.requestID = *requestID
	}
	if traceParent != nil {
		r.traceParent = *traceParent
	}
	return r, err
}

func queueGetRun(b *pgx.Batch, tenantID, id uuid.UUID, forUpdate bool, out *Run, found *bool) {
	sql := `SELECT ` + runColumns + ` FROM collection_runs WHERE tenant_id = $1 AND id = $2`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	b.Queue(sql, tenantID, id).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			r, err := scanRun(rows)
			if err != nil {
				return err
			}
			*out, *found = r, true
		}
		return rows.Err()
	})
}

const itemColumns = `seq, counterparty_id, counterparty_name, currency, overdue_minor, days_overdue, stage, status, reason,
       detail, proposal_id, attempts`

func scanItem(row pgx.Row) (RunItem, error) {
	var it RunItem
	err := row.Scan(&it.Seq, &it.CounterpartyID, &it.CounterpartyName, &it.Currency, &it.OverdueMinor, &it.DaysOverdue,
		&it.Stage, &it.Status, &it.Reason, &it.Detail, &it.ProposalID, &it.Attempts)
	return it, err
}

func queueItems(b *pgx.Batch, tenantID, runID uuid.UUID, out *[]RunItem) {
	b.Queue(`SELECT `+itemColumns+` FROM collection_run_items WHERE tenant_id = $1 AND run_id = $2 ORDER BY seq`,
		tenantID, runID).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			it, err := scanItem(rows)
			if err != nil {
				return err
			}
			*out = append(*out, it)
		}
		return rows.Err()
	})
}

func queueItem(b *pgx.Batch, tenantID, runID uuid.UUID, seq int, forUpdate bool, out *RunItem, found *bool) {
	sql := `SELECT ` + itemColumns + ` FROM collection_run_items WHERE tenant_id = $1 AND run_id = $2 AND seq = $3`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	b.Queue(sql, tenantID, runID, seq).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			it, err := scanItem(rows)
			if err != nil {
				return err
			}
			*out, *found = it, true
		}
		return rows.Err()
	})
}

func queueInsertRun(b *pgx.Batch, tenantID uuid.UUID, r Run) {
	b.Queue(`INSERT INTO collection_runs (id, tenant_id, mode, status, as_of, items_total, items_done, requested_by_type,
    requested_by, request_id, trace_parent, created_at, updated_at, finished_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.ID, tenantID, r.Mode, r.Status, dateArg(r.AsOf), r.ItemsTotal, r.ItemsDone, r.RequestedBy.Type, r.RequestedBy.ID,
		nonEmpty(r.requestID), nonEmpty(r.traceParent), r.CreatedAt, r.UpdatedAt, r.FinishedAt)
}

// queueInsertItems stores a run's items in one statement.
func queueInsertItems(b *pgx.Batch, tenantID, runID uuid.UUID, items []RunItem, at time.Time) {
	n := len(items)
	seqs, cps, names, curs := make([]int, n), make([]uuid.UUID, n), make([]string, n), make([]string, n)
	overdue, days, stages := make([]int64, n), make([]int, n), make([]int, n)
	statuses, reasons, details := make([]string, n), make([]*string, n), make([]*string, n)
	proposals := make([]*uuid.UUID, n)
	for i, it := range items {
		seqs[i], cps[i], names[i], curs[i] = it.Seq, it.CounterpartyID, it.CounterpartyName, it.Currency
		overdue[i], days[i], stages[i] = it.OverdueMinor, it.DaysOverdue, it.Stage
		statuses[i], reasons[i], details[i], proposals[i] = string(it.Status), it.Reason, it.Detail, it.ProposalID
	}
	b.Queue(`INSERT INTO collection_run_items (tenant_id, run_id, seq, counterparty_id, counterparty_name, currency,
    overdue_minor, days_overdue, stage, status, reason, detail, proposal_id, updated_at)
SELECT $1, $2, u.seq, u.cp, u.name, u.cur, u.overdue, u.days, u.stage, u.status, u.reason, u.detail, u.proposal, $13
  FROM unnest($3::int[], $4::uuid[], $5::text[], $6::text[], $7::bigint[], $8::int[], $9::int[], $10::text[],
              $11::text[], $12::text[], $14::uuid[])
       AS u(seq, cp, name, cur, overdue, days, stage, status, reason, detail, proposal)`,
		tenantID, runID, seqs, cps, names, curs, overdue, days, stages, statuses, reasons, details, at, proposals)
}

// queueFinishItem records what became of a pending item and counts it done on its run,
// completing the run with its last item.
func queueFinishItem(b *pgx.Batch, tenantID, runID uuid.UUID, it RunItem, at time.Time) {
	b.Queue(`UPDATE collection_run_items SET status = $4, reason = $5, detail = $6, proposal_id = $7, attempts = $8, updated_at = $9
 WHERE tenant_id = $1 AND run_id = $2 AND seq = $3 AND status = 'pending'`,
		tenantID, runID, it.Seq, it.Status, it.Reason, it.Detail, it.ProposalID, it.Attempts, at)
	b.Queue(`UPDATE collection_runs SET items_done = items_done + 1, updated_at = $3,
       status = CASE WHEN items_done + 1 = items_total THEN 'completed' ELSE status END,
       finished_at = CASE WHEN items_done + 1 = items_total THEN $3 ELSE finished_at END
 WHERE tenant_id = $1 AND id = $2`, tenantID, runID, at)
}

// queueCountAttempt records a failed attempt at a pending item.
func queueCountAttempt(b *pgx.Batch, tenantID, runID uuid.UUID, seq int, detail string, at time.Time) {
	b.Queue(`UPDATE collection_run_items SET attempts = attempts + 1, detail = $4, updated_at = $5
 WHERE tenant_id = $1 AND run_id = $2 AND seq = $3 AND status = 'pending'`, tenantID, runID, seq, detail, at)
}

// queueInvoiceIDsByNumber finds the invoices numbered number, of direction d when it is
// given: the MCP server's lookup by number (numbers are unique per tenant and
// direction, invoices_tenant_id_direction_number_key).
func queueInvoiceIDsByNumber(b *pgx.Batch, tenantID uuid.UUID, number string, d *string, out *[]uuid.UUID) {
	b.Queue(`SELECT id FROM invoices WHERE tenant_id = $1 AND number = $2 AND ($3::text IS NULL OR direction = $3) ORDER BY id`,
		tenantID, number, d).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				return err
			}
			*out = append(*out, id)
		}
		return rows.Err()
	})
}
