package reconciliation

import (
	"encoding/json"
	"time"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/payments"
)

// queueTenantSettings reads the tenant's settings document in effect at at
// (tenant_settings_at, migrations/00014); found is false for a tenant that does not
// exist (the app role sees only the tenant its transaction names).
func queueTenantSettings(b *pgx.Batch, tenantID uuid.UUID, at time.Time, out *[]byte, found *bool) {
	b.Queue(`SELECT settings FROM tenant_settings_at($1, $2)`, tenantID, at).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			if err := rows.Scan(out); err != nil {
				return err
			}
			*found = true
		}
		return rows.Err()
	})
}

// kindsFor are the counterparty kinds that pay in (incoming) or are paid (outgoing).
func kindsFor(d payments.Direction) []string {
	if d == payments.Incoming {
		return []string{"customer", "both"}
	}
	return []string{"vendor", "both"}
}

// queueCounterparties reads the counterparties an inbound payment may name: by id when
// it gives one, else by name ignoring case; only those of a kind that fits the
// direction. Two are read at most, which is enough to tell an ambiguous name.
func queueCounterparties(b *pgx.Batch, tenantID uuid.UUID, id *uuid.UUID, name string, d payments.Direction, out *[]uuid.UUID) {
	b.Queue(`SELECT id FROM counterparties
 WHERE tenant_id = $1 AND kind = ANY($2)
   AND CASE WHEN $3::uuid IS NOT NULL THEN id = $3 ELSE lower(name) = lower($4) END
 ORDER BY id LIMIT 2`, tenantID, kindsFor(d), id, name).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var cp uuid.UUID
			if err := rows.Scan(&cp); err != nil {
				return err
			}
			*out = append(*out, cp)
		}
		return rows.Err()
	})
}

// maxCandidates bounds the invoices one payment is scored against.
const maxCandidates = 200

// queueCandidates reads the open invoices a payment may settle: same currency and
// matching direction, and the counterparty's, or named by the reference, or with an
// amount due within the tolerance. Those the reference names come first, then those
// near the amount, so the limit drops the weakest. Reading invoices here, unlocked, is
// only for scoring: the allocation locks and checks them again.
func queueCandidates(b *pgx.Batch, tenantID uuid.UUID, p payments.Summary, reference string, tolerance int64, out *[]Invoice) {
	b.Queue(`SELECT id, number, counterparty_id, amount_due_minor, due_date FROM invoices
 WHERE tenant_id = $1 AND status = 'open' AND currency = $2 AND direction = $3
   AND (counterparty_id = $4
        OR abs(amount_due_minor - $5) <= $6
        OR ($7 <> '' AND strpos($7, number) > 0))
 ORDER BY ($7 <> '' AND strpos($7, number) > 0) DESC, abs(amount_due_minor - $5) <= $6 DESC, due_date, id
 LIMIT $8`, tenantID, p.Currency, p.Direction.InvoiceDirection(), p.CounterpartyID, p.AmountMinor, tolerance,
		reference, maxCandidates).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var inv Invoice
			var due time.Time
			if err := rows.Scan(&inv.ID, &inv.Number, &inv.CounterpartyID, &inv.AmountDueMinor, &due); err != nil {
				return err
			}
			inv.DueDate = civil.DateOf(due)
			*out = append(*out, inv)
		}
		return rows.Err()
	})
}

func queueInsertSuggestion(b *pgx.Batch, tenantID uuid.UUID, s Suggestion) error {
	amounts, err := json.Marshal(s.Amounts)
	if err != nil {
		return err
	}
	reasons, err := json.Marshal(s.Reasons)
	if err != nil {
		return err
	}
	b.Queue(`INSERT INTO reconciliation_suggestions (id, tenant_id, payment_id, currency, payment_direction, amounts,
    score, reasons, status, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		s.ID, tenantID, s.PaymentID, s.currency, s.direction, amounts, s.Score, reasons, s.Status, s.CreatedAt)
	return nil
}

const suggestionColumns = `id, payment_id, amounts, score, reasons, status, created_at, decided_at, decided_by`

func scanSuggestion(row pgx.Row) (Suggestion, error) {
	var s Suggestion
	err := row.Scan(&s.ID, &s.PaymentID, &s.Amounts, &s.Score, &s.Reasons, &s.Status, &s.CreatedAt, &s.DecidedAt, &s.DecidedBy)
	s.fill()
	return s, err
}

func queueSuggestions(b *pgx.Batch, sql string, args []any, out *[]Suggestion) {
	b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			s, err := scanSuggestion(rows)
			if err != nil {
				return err
			}
			*out = append(*out, s)
		}
		return rows.Err()
	})
}

// queueLockPaymentSuggestions locks every suggestion of the payment that suggestion id
// is for, in id order: accepting one decides them all, and two acceptances for the
// same payment then queue on the same first row instead of deadlocking.
func queueLockPaymentSuggestions(b *pgx.Batch, tenantID, id uuid.UUID, out *[]Suggestion) {
	queueSuggestions(b, `SELECT `+suggestionColumns+` FROM reconciliation_suggestions
 WHERE tenant_id = $1 AND payment_id = (SELECT payment_id FROM reconciliation_suggestions WHERE tenant_id = $1 AND id = $2)
 ORDER BY id FOR UPDATE`, []any{tenantID, id}, out)
}

func queueLockSuggestion(b *pgx.Batch, tenantID, id uuid.UUID, out *[]Suggestion) {
	queueSuggestions(b, `SELECT `+suggestionColumns+` FROM reconciliation_suggestions WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
		[]any{tenantID, id}, out)
}

// queueDecide records the decision on a pending suggestion.
func queueDecide(b *pgx.Batch, tenantID uuid.UUID, s Suggestion) {
	b.Queue(`UPDATE reconciliation_suggestions SET status = $3, decided_at = $4, decided_by = $5
 WHERE tenant_id = $1 AND id = $2 AND status = 'pending'`, tenantID, s.ID, s.Status, s.DecidedAt, s.DecidedBy).
		Exec(func(ct pgconn.CommandTag) error {
			if ct.RowsAffected() != 1 {
				return errNotPending
			}
			return nil
		})
}

// queueList reads a page newest first (the page or by-status index, plus the filters).
func queueList(b *pgx.Batch, tenantID uuid.UUID, f ListFilter, p page.Params, out *[]Suggestion) {
	w := db.NewWhere("tenant_id = ?", tenantID)
	if f.Status != nil {
		w.Add("status = ?", string(*f.Status))
	}
	if f.PaymentID != nil {
		w.Add("payment_id = ?", *f.PaymentID)
	}
	if p.StartingAfter != nil {
		w.Add("id < ?", *p.StartingAfter)
	}
	limit := w.Arg(p.Limit + 1)
	queueSuggestions(b, `SELECT `+suggestionColumns+` FROM reconciliation_suggestions WHERE `+w.SQL()+
		` ORDER BY id DESC LIMIT `+limit, w.Args(), out)
}

// rejection is one refused inbound message.
type rejection struct {
	messageID  string
	externalID string
	reason     string // invalid_message, counterparty_unresolved
	detail     any
	body       string
}

func queueInsertRejection(b *pgx.Batch, tenantID uuid.UUID, r rejection, at time.Time) error {
	detail, err := json.Marshal(r.detail)
	if err != nil {
		return err
	}
	var external *string
	if r.externalID != "" {
		external = &r.externalID
	}
	b.Queue(`INSERT INTO inbound_payment_rejections (id, tenant_id, message_id, external_id, reason, detail, body, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		uuid.Must(uuid.NewV7()), tenantID, r.messageID, external, r.reason, detail, r.body, at)
	return nil
}
