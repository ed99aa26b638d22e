package db

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
)

// Isolation names the isolation level a transaction needs; callers state it with a
// reason at the call site.
type Isolation string

const (
	ReadCommitted  Isolation = "READ COMMITTED"
	RepeatableRead Isolation = "REPEATABLE READ"
	Serializable   Isolation = "SERIALIZABLE"
)

// maxAttempts bounds retries of serialization failures and deadlocks, which PostgreSQL
// resolves by aborting one side; the retry usually succeeds at once.
const maxAttempts = 4

type txKey struct{}

type ambient struct {
	tx       pgx.Tx
	tenantID uuid.UUID
}

// WithTx returns a context carrying an open tenant transaction. InTenantTx called with
// that context joins it instead of opening another, so a caller that must commit
// several steps atomically (the idempotency layer stores its response in the same
// transaction as the business change) can do so without the services knowing.
func WithTx(ctx context.Context, tenantID uuid.UUID, tx pgx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, ambient{tx: tx, tenantID: tenantID})
}

// WithoutTx returns ctx without the transaction WithTx put in it, keeping its other
// values and its cancellation: InTenantTx and Read called with it open their own
// transaction on another connection. It is for what must outlive the request's
// transaction whatever becomes of it, such as the record of money already spent (an
// agent run's tokens) or of a refusal that must stand although the request fails; the
// idempotency layer rolls back every request that does not succeed.
//
// The caller must not need a lock the ambient transaction holds: the two transactions
// are different sessions, and the ambient one ends only after the caller returns.
func WithoutTx(ctx context.Context) context.Context {
	if _, ok := ctx.Value(txKey{}).(ambient); !ok {
		return ctx
	}
	// A nil value under the key hides the ambient transaction from Value lookups.
	return context.WithValue(ctx, txKey{}, nil)
}

// InTenantTx runs fn in a read-committed transaction scoped to tenantID.
func (d *DB) InTenantTx(ctx context.Context, tenantID uuid.UUID, fn func(pgx.Tx) error) error {
	return d.InTenantTxIso(ctx, tenantID, ReadCommitted, fn)
}

// InTenantTxIso runs fn in a transaction at iso with app.tenant_id set
// transaction-locally (set_config(..., true)), so row-level security applies and the
// setting dies with the transaction: a pooled connection never carries one tenant into
// the next request. Serialization failures and deadlocks are retried; fn must
// therefore be safe to run again.
func (d *DB) InTenantTxIso(ctx context.Context, tenantID uuid.UUID, iso Isolation, fn func(pgx.Tx) error) error {
	if tenantID == uuid.Nil {
		return apperr.New(apperr.Internal, "internal", "transaction without a tenant")
	}
	if a, ok := ctx.Value(txKey{}).(ambient); ok {
		if a.tenantID != tenantID {
			return apperr.New(apperr.Internal, "internal", "nested transaction for another tenant")
		}
		return fn(a.tx)
	}
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		err = d.runTx(ctx, tenantID, iso, fn)
		if err == nil || !retryable(err) || attempt == maxAttempts {
			break
		}
		// Jittered backoff so two retried transactions do not collide again in lockstep.
		delay := time.Duration(attempt*attempt)*time.Millisecond + rand.N(2*time.Millisecond)
		select {
		case <-ctx.Done():
			return Map(ctx.Err())
		case <-time.After(delay):
		}
	}
	return Map(err)
}

// Begin opens a tenant transaction the caller commits or rolls back itself; used by
// layers that wrap a whole request (idempotency).
func (d *DB) Begin(ctx context.Context, tenantID uuid.UUID, iso Isolation) (pgx.Tx, error) {
	if tenantID == uuid.Nil {
		return nil, apperr.New(apperr.Internal, "internal", "transaction without a tenant")
	}
	tx, err := d.Pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: beginQuery(tenantID, iso)})
	if err != nil {
		return nil, Map(err)
	}
	return tx, nil
}

func (d *DB) runTx(ctx context.Context, tenantID uuid.UUID, iso Isolation, fn func(pgx.Tx) error) error {
	tx, err := d.Pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: beginQuery(tenantID, iso)})
	if err != nil {
		return err
	}
	// Roll back whenever the commit was not reached: an error, but also a panic in fn
	// or a test's FailNow, which must not leave the transaction open on a pooled
	// connection. The rollback error adds nothing: the connection is reset either way.
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	return tx.Commit(ctx)
}

// beginQuery opens the transaction and sets the tenant in one round trip (a simple-
// protocol multi-statement query). Interpolation is safe: a uuid.UUID formats as hex
// digits and dashes only, and iso comes from the constants above.
func beginQuery(tenantID uuid.UUID, iso Isolation) string {
	return fmt.Sprintf("BEGIN ISOLATION LEVEL %s; SELECT set_config('app.tenant_id', '%s', true)", iso, tenantID)
}

func retryable(err error) bool {
	var pgErr interface{ SQLState() string }
	if errors.As(err, &pgErr) {
		switch pgErr.SQLState() {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return true
		}
	}
	return false
}

// Read runs the statements fn queues as one pipelined batch scoped to tenantID: one
// round trip. The batch's statements share one implicit transaction (the extended
// protocol runs everything up to Sync as one), so the transaction-local tenant setting
// applies to them and is gone afterwards. Inside an ambient transaction the batch joins
// it instead.
func (d *DB) Read(ctx context.Context, tenantID uuid.UUID, fn func(b *pgx.Batch)) error {
	if tenantID == uuid.Nil {
		return apperr.New(apperr.Internal, "internal", "read without a tenant")
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('app.tenant_id', $1, true)`, tenantID.String())
	fn(b)
	if a, ok := ctx.Value(txKey{}).(ambient); ok {
		if a.tenantID != tenantID {
			return apperr.New(apperr.Internal, "internal", "nested read for another tenant")
		}
		return Map(a.tx.SendBatch(ctx, b).Close())
	}
	return Map(d.Pool.SendBatch(ctx, b).Close())
}
