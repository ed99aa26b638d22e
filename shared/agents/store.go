package agents

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/page"
)

// The SQL of agent runs (migrations/00016), and the only SQL of this package.

const runColumns = `id, agent, provider, model, prompt_version, cache_hit, outcome, error, attempts,
 latency_ms, tokens_in, tokens_out, cost_micros, created_at`

func scanRun(row pgx.Row) (Run, error) {
	var r Run
	var agent string
	err := row.Scan(&r.ID, &agent, &r.Provider, &r.Model, &r.PromptVersion, &r.CacheHit, &r.Outcome, &r.Error,
		&r.Attempts, &r.LatencyMs, &r.TokensIn, &r.TokensOut, &r.CostMicros, &r.CreatedAt)
	r.Agent, r.Object = Name(agent), "agent_run"
	r.CreatedAt = r.CreatedAt.UTC()
	return r, err
}

// insertRun records a run in a tenant transaction (the caller's, when the context
// carries one: Run strips it, so that a run is never rolled back with a request).
func (s *Service) insertRun(ctx context.Context, tenantID uuid.UUID, r Run) error {
	return s.DB.InTenantTx(ctx, tenantID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO agent_runs (id, tenant_id, agent, provider, model, prompt_version,
 cache_hit, outcome, error, attempts, latency_ms, tokens_in, tokens_out, cost_micros, created_at)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
			r.ID, tenantID, string(r.Agent), r.Provider, r.Model, r.PromptVersion, r.CacheHit, r.Outcome, r.Error,
			r.Attempts, r.LatencyMs, r.TokensIn, r.TokensOut, r.CostMicros, r.CreatedAt)
		return err
	})
}

// monthSpend is what the tenant's runs created in [start, end) cost, in micros; an
// index-only scan of agent_runs_month.
func (s *Service) monthSpend(ctx context.Context, tenantID uuid.UUID, start, end time.Time) (int64, error) {
	var spent int64
	err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) {
		b.Queue(`SELECT COALESCE(sum(cost_micros), 0)::bigint FROM agent_runs
 WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3`, tenantID, start, end).
			QueryRow(func(row pgx.Row) error { return row.Scan(&spent) })
	})
	return spent, err
}

// queueList reads a page of runs newest first, filtered; served by agent_runs_page.
func queueList(b *pgx.Batch, tenantID uuid.UUID, f Filter, p page.Params, out *[]Run) {
	var agent, outcome *string
	if f.Agent != nil {
		a := string(*f.Agent)
		agent = &a
	}
	outcome = f.Outcome
	b.Queue(`SELECT `+runColumns+` FROM agent_runs
 WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2)
   AND ($3::text IS NULL OR agent = $3) AND ($4::text IS NULL OR outcome = $4)
 ORDER BY id DESC LIMIT $5`, tenantID, p.StartingAfter, agent, outcome, p.Limit+1).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				r, err := scanRun(rows)
				if err != nil {
					return err
				}
				*out = append(*out, r)
			}
			return rows.Err()
		})
}

// usageRow is one (agent, outcome) group of a month's runs.
type usageRow struct {
	agent, outcome      string
	runs, cacheHits     int64
	tokensIn, tokensOut int64
	costMicros          int64
}

// queueUsage reads a month's runs grouped by agent and outcome.
func queueUsage(b *pgx.Batch, tenantID uuid.UUID, start, end time.Time, out *[]usageRow) {
	b.Queue(`SELECT agent, outcome, count(*), count(*) FILTER (WHERE cache_hit),
       COALESCE(sum(tokens_in), 0)::bigint, COALESCE(sum(tokens_out), 0)::bigint, COALESCE(sum(cost_micros), 0)::bigint
  FROM agent_runs
 WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
 GROUP BY agent, outcome`, tenantID, start, end).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var r usageRow
				if err := rows.Scan(&r.agent, &r.outcome, &r.runs, &r.cacheHits, &r.tokensIn, &r.tokensOut, &r.costMicros); err != nil {
					return err
				}
				*out = append(*out, r)
			}
			return rows.Err()
		})
}
