package imports

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/counterparties"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/invoices"
	"github.com/ledgerline/ledgerline/shared/payments"
)

// ChunkOutcome is what a delivery of a chunk message did.
type ChunkOutcome string

const (
	ChunkApplied   ChunkOutcome = "applied"   // the chunk was applied (in a dry run: tried and rolled back)
	ChunkDuplicate ChunkOutcome = "duplicate" // the chunk was applied before: nothing to do
	ChunkUnknown   ChunkOutcome = "unknown"   // no such chunk (of this tenant): nothing can be done
)

// ChunkResult reports a delivery of a chunk message.
type ChunkResult struct {
	Outcome                     ChunkOutcome
	Created, Updated, Unchanged int
	RowsFailed                  int
}

// DecodeChunkMessage reads a chunk message; an error means no delivery of it can
// ever succeed.
func DecodeChunkMessage(data []byte) (ChunkMessage, error) {
	var m ChunkMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return ChunkMessage{}, fmt.Errorf("imports: undecodable chunk message: %w", err)
	}
	if m.TenantID == uuid.Nil || m.ImportID == uuid.Nil || m.Seq < 1 {
		return ChunkMessage{}, fmt.Errorf("imports: chunk message without tenant, import or sequence number")
	}
	return m, nil
}

// ApplyChunk applies one chunk in one transaction: every record upserted by external
// id through its domain's rules (with the audit records and outbox events of each
// change, as the actor who uploaded the file), the rows that fail recorded with their
// cells, the chunk marked applied and its outcome added to the import, which is
// finished with its last chunk. Nothing is half-applied: a failure rolls everything
// back and is returned, for the message to be redelivered. A chunk applied before is
// acknowledged without effect, so redeliveries and duplicates change nothing.
//
// In a dry run the records are applied exactly the same way inside a savepoint that is
// rolled back: only the outcome (what would be created, updated, refused) is kept.
func (s *Service) ApplyChunk(ctx context.Context, m ChunkMessage, requestID, traceParent string) (ChunkResult, error) {
	var res ChunkResult
	err := s.DB.InTenantTx(ctx, m.TenantID, func(tx pgx.Tx) error {
		res = ChunkResult{}
		var st chunkState
		var found bool
		b := &pgx.Batch{}
		queueLockChunk(b, m.TenantID, m.ImportID, m.Seq, &st, &found)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		switch {
		case !found:
			res.Outcome = ChunkUnknown
			return nil
		case st.status == "applied":
			res.Outcome = ChunkDuplicate
			return nil
		}
		var recs Records
		if err := json.Unmarshal(st.records, &recs); err != nil {
			return fmt.Errorf("imports: chunk %d of import %s: records: %w", m.Seq, m.ImportID, err)
		}
		var cells map[int]map[string]string
		if err := json.Unmarshal(st.cells, &cells); err != nil {
			return fmt.Errorf("imports: chunk %d of import %s: cells: %w", m.Seq, m.ImportID, err)
		}
		if recs.Kind != st.kind {
			return fmt.Errorf("imports: chunk %d of import %s holds %s, not %s", m.Seq, m.ImportID, recs.Kind, st.kind)
		}
		if traceParent == "" {
			// The upload's trace, when the message came without one.
			traceParent = st.traceParent
		}
		actor := audit.Actor{TenantID: m.TenantID, Type: st.actorType, ID: st.actorID, RequestID: requestID,
			TraceParent: traceParent}

		work := tx
		if st.dryRun {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			// Rolled back whatever happens: a dry run writes nothing to the books.
			defer func() { _ = sp.Rollback(ctx) }()
			work = sp
		}
		applied, err := s.apply(ctx, work, actor, recs)
		if err != nil {
			return err
		}
		if st.dryRun {
			b := &pgx.Batch{}
			if err := applied.queue(b); err != nil {
				return err
			}
			if err := work.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
			if err := work.Rollback(ctx); err != nil {
				return err
			}
		}

		o := applied.outcome()
		res.Outcome, res.Created, res.Updated, res.Unchanged, res.RowsFailed = ChunkApplied, o.created, o.updated, o.unchanged, o.rowsFailed
		b = &pgx.Batch{}
		seq := m.Seq
		if err := queueInsertRowErrors(b, m.TenantID, m.ImportID, &seq, applied.rowErrors(), cells); err != nil {
			return err
		}
		queueChunkApplied(b, m.TenantID, m.ImportID, m.Seq, st.status == "dead_lettered", st.rowCount, o, s.now())
		if !st.dryRun {
			// Last: the writes end with the audit append, which holds the tenant's
			// chain head until commit.
			if err := applied.queue(b); err != nil {
				return err
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return ChunkResult{}, err
	}
	return res, nil
}

// RecordChunkFailure records that delivery attempt attempt of a chunk failed with
// cause, in a transaction of its own (the attempt's was rolled back), and reports
// whether the chunk is now dead-lettered. At the subscription's last attempt
// (maxAttempts; when Pub/Sub does not number attempts, attempt is 0 and the chunk's
// own count of failures stands in) the chunk is dead-lettered: its rows count as
// failed, the import settles and lists the chunk; Pub/Sub forwards the message to the
// dead-letter store, from which a replay may still apply it. A chunk applied
// meanwhile is left alone.
func (s *Service) RecordChunkFailure(ctx context.Context, m ChunkMessage, attempt, maxAttempts int, cause error) (bool, error) {
	var deadLettered bool
	err := s.DB.InTenantTx(ctx, m.TenantID, func(tx pgx.Tx) error {
		deadLettered = false
		now := s.now()
		b := &pgx.Batch{}
		queueChunkFailed(b, m.TenantID, m.ImportID, m.Seq, attempt, maxAttempts, cause.Error(), now, &deadLettered)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !deadLettered {
			return nil
		}
		b = &pgx.Batch{}
		queueSettle(b, m.TenantID, m.ImportID, now)
		return tx.SendBatch(ctx, b).Close()
	})
	return deadLettered, err
}

// applied is a chunk's records applied (or planned) in the transaction: per record,
// its outcome or why it failed, and the writes still to queue.
type applied struct {
	rows     [][]int // each record's rows
	outcomes []string
	errs     []recordError
	queue    func(b *pgx.Batch) error
}

// recordError is why one record failed, on which of its rows.
type recordError struct {
	err error
	// onRow, when set, names the one row of the record at fault (an invoice's line, a
	// payment's allocation); else the error is the whole record's.
	onRow  func(field string) (row int, column string, ok bool)
	column func(field string) string
}

func (a *applied) outcome() outcome {
	var o outcome
	for i, out := range a.outcomes {
		switch out {
		case "created":
			o.created++
		case "updated":
			o.updated++
		case "unchanged":
			o.unchanged++
		}
		if a.errs[i].err != nil {
			o.rowsFailed += len(a.rows[i])
		} else {
			o.rowsSucceeded += len(a.rows[i])
		}
	}
	return o
}

// rowErrors turns the records' errors into row errors: every row of a failed record
// is given back, the row at fault with the error, the others as not imported.
func (a *applied) rowErrors() []RowError {
	var out []RowError
	for i, re := range a.errs {
		if re.err == nil {
			continue
		}
		rows := a.rows[i]
		e := apperr.From(re.err)
		byRow := map[int][]RowError{}
		add := func(row int, column, code, reason string) {
			byRow[row] = append(byRow[row], RowError{Row: row, Column: column, Code: code, Reason: reason})
		}
		if len(e.Fields) == 0 {
			column := ""
			if re.column != nil {
				column = re.column("")
			}
			for _, r := range rows {
				add(r, column, e.Code, message(e))
			}
		} else {
			names := make([]string, 0, len(e.Fields))
			for f := range e.Fields {
				names = append(names, f)
			}
			sort.Strings(names)
			for _, f := range names {
				code := CodeInvalidValue
				if e.Code != "validation_failed" {
					code = e.Code
				}
				if re.onRow != nil {
					if row, column, ok := re.onRow(f); ok {
						add(row, column, code, e.Fields[f])
						continue
					}
				}
				column := ""
				if re.column != nil {
					column = re.column(f)
				}
				for _, r := range rows {
					add(r, column, code, e.Fields[f])
				}
			}
		}
		for _, r := range rows {
			if len(byRow[r]) == 0 {
				add(r, "", CodeNotImported, "another row of the same record has an error")
			}
			out = append(out, byRow[r]...)
		}
	}
	return out
}

func message(e *apperr.Error) string {
	if e.Kind == apperr.Internal {
		return "internal error"
	}
	return e.Message
}

// apply plans or performs the records of a chunk in tx.
func (s *Service) apply(ctx context.Context, tx pgx.Tx, actor audit.Actor, recs Records) (*applied, error) {
	switch recs.Kind {
	case Counterparties:
		return s.applyCounterparties(ctx, tx, actor, recs.Counterparties)
	case Invoices:
		return s.applyInvoices(ctx, tx, actor, recs.Invoices)
	case Payments:
		return s.applyPayments(ctx, tx, actor, recs.Payments)
	}
	return nil, fmt.Errorf("imports: unknown kind %q", recs.Kind)
}

func newApplied(n int) *applied {
	return &applied{rows: make([][]int, n), outcomes: make([]string, n), errs: make([]recordError, n),
		queue: func(*pgx.Batch) error { return nil }}
}

// counterpartyColumn maps a counterparty field to its column: the names are the same.
func counterpartyColumn(field string) string { return field }

func (s *Service) applyCounterparties(ctx context.Context, tx pgx.Tx, actor audit.Actor, recs []CounterpartyRecord) (*applied, error) {
	a := newApplied(len(recs))
	ins := make([]counterparties.CreateInput, len(recs))
	for i, r := range recs {
		a.rows[i], ins[i] = r.Rows, r.Input
	}
	svc := &counterparties.Service{DB: s.DB, Now: s.Now}
	plan, err := svc.PlanUpsert(ctx, tx, actor, ins)
	if err != nil {
		return nil, err
	}
	for i, r := range plan.Results() {
		a.outcomes[i] = string(r.Outcome)
		a.errs[i] = recordError{err: r.Err, column: counterpartyColumn}
	}
	a.queue = func(b *pgx.Batch) error { return plan.Queue(b, actor.TenantID) }
	return a, nil
}

var indexed = regexp.MustCompile(`^(lines|allocations)\[(\d+)\]\.(.+)$`)

// invoiceColumn maps an invoice field of the API to the column of the file it came
// from.
func invoiceColumn(field string) string {
	switch field {
	case "counterparty_id":
		return ColCounterpartyExternalID
	case "unit_amount_minor", "unit_price":
		return ColUnitAmount
	case "lines":
		return ""
	}
	return field
}

// lineRow finds the row of an invoice's line named by a field such as lines[2].quantity.
func lineRow(rows []int) func(string) (int, string, bool) {
	return func(field string) (int, string, bool) {
		m := indexed.FindStringSubmatch(field)
		if m == nil || m[1] != "lines" {
			return 0, "", false
		}
		i, _ := strconv.Atoi(m[2])
		if i >= len(rows) {
			return 0, "", false
		}
		return rows[i], invoiceColumn(m[3]), true
	}
}

func (s *Service) applyInvoices(ctx context.Context, tx pgx.Tx, actor audit.Actor, recs []InvoiceRecord) (*applied, error) {
	a := newApplied(len(recs))
	ids := make([]string, 0, len(recs))
	for i, r := range recs {
		a.rows[i] = r.Rows
		ids = append(ids, r.CounterpartyExternalID)
	}
	cps, err := counterparties.ByExternalIDs(ctx, tx, actor.TenantID, dedupe(ids))
	if err != nil {
		return nil, err
	}
	var ins []invoices.CreateInput
	var idx []int
	for i, r := range recs {
		a.errs[i].column, a.errs[i].onRow = invoiceColumn, lineRow(r.Rows)
		cp, ok := cps[r.CounterpartyExternalID]
		if !ok {
			a.errs[i].err = unknownCounterparty(r.CounterpartyExternalID)
			continue
		}
		in := r.Input
		in.CounterpartyID = cp.ID
		ins, idx = append(ins, in), append(idx, i)
	}
	svc := &invoices.Service{DB: s.DB, Now: s.Now}
	plan, err := svc.PlanUpsert(ctx, tx, actor, ins)
	if err != nil {
		return nil, err
	}
	for k, r := range plan.Results() {
		i := idx[k]
		a.outcomes[i], a.errs[i].err = string(r.Outcome), r.Err
	}
	a.queue = plan.Queue
	return a, nil
}

// unknownCounterparty refuses a record naming a counterparty that does not exist.
func unknownCounterparty(ext string) error {
	e := apperr.Validation(map[string]string{
		"counterparty_id": fmt.Sprintf("no counterparty has external_id %q; import the counterparties first", ext)})
	e.Code = "unknown_counterparty"
	return e
}

// paymentColumn maps a payment field of the API to the column of the file.
func paymentColumn(field string) string {
	switch field {
	case "counterparty_id":
		return ColCounterpartyExternalID
	case "amount_minor":
		return ColAmount
	case "allocations", "":
		return ""
	}
	return field
}

// allocationRow finds the row of a payment's allocation named by a field such as
// allocations[1].amount_minor: a payment's rows are its allocations, in order.
func allocationRow(rows []int, n int) func(string) (int, string, bool) {
	return func(field string) (int, string, bool) {
		m := indexed.FindStringSubmatch(field)
		if m == nil || m[1] != "allocations" || len(rows) != n {
			return 0, "", false
		}
		i, _ := strconv.Atoi(m[2])
		if i >= len(rows) {
			return 0, "", false
		}
		col := ColAllocatedAmount
		if m[3] == "invoice_id" {
			col = ColInvoiceExternalID
		}
		return rows[i], col, true
	}
}

// applyPayments records each new payment through payments.Service.Create, the API's
// own use case, in a savepoint of tx, so a payment refused (an allocation over what
// is due, an invoice no longer open) is rolled back alone and reported. Payments are
// money movements: each locks its invoices and runs the allocation triggers, so there
// is no set-based shortcut that keeps those checks, and imports of payments are far
// smaller than those of invoices. References are resolved for the whole chunk at once.
func (s *Service) applyPayments(ctx context.Context, tx pgx.Tx, actor audit.Actor, recs []PaymentRecord) (*applied, error) {
	a := newApplied(len(recs))
	var cpIDs, invIDs, payIDs []string
	for i, r := range recs {
		a.rows[i] = r.Rows
		cpIDs = append(cpIDs, r.CounterpartyExternalID)
		for _, al := range r.Allocations {
			invIDs = append(invIDs, al.InvoiceExternalID)
		}
		if r.Input.ExternalID != nil {
			payIDs = append(payIDs, *r.Input.ExternalID)
		}
	}
	cps, err := counterparties.ByExternalIDs(ctx, tx, actor.TenantID, dedupe(cpIDs))
	if err != nil {
		return nil, err
	}
	invs, err := invoices.IDsByExternalIDs(ctx, tx, actor.TenantID, dedupe(invIDs))
	if err != nil {
		return nil, err
	}
	existing, err := payments.ByExternalIDs(ctx, tx, actor.TenantID, dedupe(payIDs))
	if err != nil {
		return nil, err
	}
	svc := &payments.Service{DB: s.DB, Now: s.Now}
	seen := map[string]bool{}
	for i, r := range recs {
		re := &a.errs[i]
		re.column, re.onRow = paymentColumn, allocationRow(r.Rows, len(r.Allocations))
		in := r.Input
		if in.ExternalID == nil {
			re.err = apperr.Validation(map[string]string{"external_id": "is required to import a payment"})
			continue
		}
		ext := *in.ExternalID
		if seen[ext] {
			re.err = apperr.New(apperr.Unprocessable, "duplicate_external_id", "external_id "+ext+" appears more than once in the import")
			continue
		}
		seen[ext] = true
		cp, ok := cps[r.CounterpartyExternalID]
		if !ok {
			re.err = unknownCounterparty(r.CounterpartyExternalID)
			continue
		}
		in.CounterpartyID = cp.ID
		in.Allocations = make([]payments.AllocationInput, len(r.Allocations))
		fields := apperr.Fields{}
		for k, al := range r.Allocations {
			id, ok := invs[al.InvoiceExternalID]
			if !ok {
				fields.Add(fmt.Sprintf("allocations[%d].invoice_id", k), fmt.Sprintf("no invoice has external_id %q", al.InvoiceExternalID))
			}
			in.Allocations[k] = payments.AllocationInput{InvoiceID: id, AmountMinor: al.AmountMinor}
		}
		if len(fields) > 0 {
			e := apperr.Validation(fields)
			e.Code = "unknown_invoice"
			re.err = e
			continue
		}
		if p, ok := existing[ext]; ok {
			if p.Records(in) {
				a.outcomes[i] = "unchanged"
				continue
			}
			re.err = apperr.New(apperr.Conflict, "payment_already_posted",
				"payment "+ext+" was recorded with other values; payments cannot change once posted (reverse it and import it under a new external_id)")
			continue
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return nil, err
		}
		_, err = svc.Create(db.WithTx(ctx, actor.TenantID, sp), actor, in)
		if err != nil {
			if rbErr := sp.Rollback(ctx); rbErr != nil {
				return nil, rbErr
			}
			if !refusal(err) {
				return nil, err
			}
			re.err = err
			continue
		}
		if err := sp.Commit(ctx); err != nil {
			return nil, err
		}
		a.outcomes[i] = "created"
	}
	return a, nil
}

// refusal tells a refusal of a record, which no retry changes, from a failure worth
// retrying the chunk for. A payment with the same external id created concurrently is
// retried: the retry finds it and compares.
func refusal(err error) bool {
	e := apperr.From(err)
	switch e.Kind {
	case apperr.Invalid, apperr.Unprocessable:
		return true
	case apperr.Conflict:
		return !strings.HasSuffix(e.Code, "_external_id_exists")
	}
	return false
}

func dedupe(ss []string) []string {
	seen := make(map[string]bool, len(ss))
	out := ss[:0:0]
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
