package imports

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ledgerline/ledgerline/shared/page"
)

// The SQL of imports: the import, its chunks and its row errors (migrations/00015).

// importRow is an import with the columns the API does not show.
type importRow struct {
	Import
	sha         []byte
	actorType   string
	requestID   string
	traceParent string
}

func queueInsertImport(b *pgx.Batch, tenantID uuid.UUID, r importRow) {
	i := r.Import
	b.Queue(`INSERT INTO imports (id, tenant_id, kind, status, dry_run, file_name, format, size_bytes, sha256, rows_total,
    rows_failed, chunks_total, created_by_type, created_by, request_id, trace_parent, created_at, updated_at, finished_at,
    failure_reason)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
		i.ID, tenantID, i.Kind, i.Status, i.DryRun, i.FileName, i.Format, i.SizeBytes, r.sha, i.RowsTotal, i.RowsFailed,
		i.Progress.ChunksTotal, r.actorType, i.CreatedBy, nonEmpty(r.requestID), nonEmpty(r.traceParent), i.CreatedAt,
		i.UpdatedAt, i.FinishedAt, i.FailureReason)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// rowErrorBatch bounds one insert of row errors: a file can have hundreds of
// thousands, and one statement's arrays are held in memory whole.
const rowErrorBatch = 5000

// queueInsertRowErrors appends errs (of chunk, or nil when the rows failed reading)
// with each row's cells.
func queueInsertRowErrors(b *pgx.Batch, tenantID, importID uuid.UUID, chunk *int, errs []RowError, cells map[int]map[string]string) error {
	for start := 0; start < len(errs); start += rowErrorBatch {
		part := errs[start:min(start+rowErrorBatch, len(errs))]
		n := len(part)
		rows := make([]int32, n)
		cols := make([]*string, n)
		codes, reasons, cellJSON := make([]string, n), make([]string, n), make([]string, n)
		for i, e := range part {
			code := e.Code
			if code == "" {
				code = CodeInvalidValue
			}
			reason := e.Reason
			if reason == "" {
				reason = code
			}
			rows[i], codes[i], reasons[i] = int32(e.Row), clip(code, 64), clip(reason, 2000)
			if e.Column != "" {
				c := clip(e.Column, 64)
				cols[i] = &c
			}
			c := cells[e.Row]
			if c == nil {
				c = map[string]string{}
			}
			j, err := json.Marshal(c)
			if err != nil {
				return err
			}
			cellJSON[i] = string(j)
		}
		b.Queue(`INSERT INTO import_row_errors (tenant_id, import_id, row_number, column_name, code, reason, cells, chunk_seq)
SELECT $1, $2, t.row_number, t.column_name, t.code, t.reason, t.cells, $3
  FROM unnest($4::int[], $5::text[], $6::text[], $7::text[], $8::jsonb[]) AS t(row_number, column_name, code, reason, cells)`,
			tenantID, importID, chunk, rows, cols, codes, reasons, cellJSON)
	}
	return nil
}

// clip keeps s within max runes (a reason can quote a cell).
func clip(s string, max int) string {
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

func queueInsertChunk(b *pgx.Batch, tenantID, importID uuid.UUID, c chunk, records, cells []byte) {
	b.Queue(`INSERT INTO import_chunks (tenant_id, import_id, seq, records, cells, record_count, row_count)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, tenantID, importID, c.seq, string(records), string(cells), c.recs.count(), len(c.rows))
}

// columns is the one projection of an import row, in scan order.
const columns = `id, kind, status, dry_run, file_name, format, size_bytes, sha256, rows_total, rows_succeeded,
rows_failed, chunks_total, chunks_done, chunks_dead_lettered, created_count, updated_count, unchanged_count,
created_by, created_at, updated_at, finished_at, failure_reason`

func scan(row pgx.Row) (Import, error) {
	i := Import{Object: "import"}
	var sha []byte
	var created, updated, unchanged int
	err := row.Scan(&i.ID, &i.Kind, &i.Status, &i.DryRun, &i.FileName, &i.Format, &i.SizeBytes, &sha, &i.RowsTotal,
		&i.RowsSucceeded, &i.RowsFailed, &i.Progress.ChunksTotal, &i.Progress.ChunksDone, &i.Progress.ChunksDeadLettered,
		&created, &updated, &unchanged, &i.CreatedBy, &i.CreatedAt, &i.UpdatedAt, &i.FinishedAt, &i.FailureReason)
	i.SHA256 = hex.EncodeToString(sha)
	i.Counts = countsOf(i.DryRun, created, updated, unchanged)
	i.finish()
	return i, err
}

func queueGet(b *pgx.Batch, tenantID, id uuid.UUID, out *Import, found *bool) {
	b.Queue(`SELECT `+columns+` FROM imports WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				i, err := scan(rows)
				if err != nil {
					return err
				}
				*out, *found = i, true
			}
			return rows.Err()
		})
}

func queueDeadLettered(b *pgx.Batch, tenantID, id uuid.UUID, out *[]DeadLetteredChunk) {
	b.Queue(`SELECT seq, row_count, attempts FROM import_chunks
 WHERE tenant_id = $1 AND import_id = $2 AND status = 'dead_lettered' ORDER BY seq`, tenantID, id).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var c DeadLetteredChunk
				if err := rows.Scan(&c.Seq, &c.Rows, &c.Attempts); err != nil {
					return err
				}
				*out = append(*out, c)
			}
			return rows.Err()
		})
}

// queueList reads a page newest first; served by imports_page (tenant_id, id DESC).
func queueList(b *pgx.Batch, tenantID uuid.UUID, p page.Params, out *[]Import) {
	b.Queue(`SELECT `+columns+` FROM imports
 WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2)
 ORDER BY id DESC LIMIT $3`, tenantID, p.StartingAfter, p.Limit+1).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				i, err := scan(rows)
				if err != nil {
					return err
				}
				*out = append(*out, i)
			}
			return rows.Err()
		})
}

// chunkState is a chunk as the processor finds it, with what it needs of its import.
type chunkState struct {
	status      string
	records     []byte
	cells       []byte
	rowCount    int
	attempts    int
	kind        Kind
	dryRun      bool
	actorType   string
	actorID     string
	traceParent string
}

// queueLockChunk reads a chunk and locks it until commit: two deliveries of one chunk
// serialise here, and the second finds it applied.
func queueLockChunk(b *pgx.Batch, tenantID, importID uuid.UUID, seq int, out *chunkState, found *bool) {
	b.Queue(`SELECT c.status, c.records, c.cells, c.row_count, c.attempts, i.kind, i.dry_run, i.created_by_type,
       i.created_by, coalesce(i.trace_parent, '')
  FROM import_chunks c JOIN imports i ON i.tenant_id = c.tenant_id AND i.id = c.import_id
 WHERE c.tenant_id = $1 AND c.import_id = $2 AND c.seq = $3
   FOR UPDATE OF c`, tenantID, importID, seq).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				if err := rows.Scan(&out.status, &out.records, &out.cells, &out.rowCount, &out.attempts, &out.kind,
					&out.dryRun, &out.actorType, &out.actorID, &out.traceParent); err != nil {
					return err
				}
				*found = true
			}
			return rows.Err()
		})
}

// outcome is what applying a chunk did.
type outcome struct {
	created, updated, unchanged int
	rowsSucceeded, rowsFailed   int
}

// finalStatus is the SQL that decides an import's status once every chunk is done or
// dead-lettered (see Status), over the row's new values.
const finalStatus = `CASE
    WHEN chunks_done + chunks_dead_lettered < chunks_total THEN 'running'
    WHEN rows_succeeded = 0 AND rows_total > 0 THEN 'failed'
    WHEN rows_failed > 0 THEN 'completed_with_errors'
    ELSE 'completed' END`

// queueChunkApplied marks a chunk applied with its outcome and adds the outcome to
// the import, finishing it with the last chunk. A chunk dead-lettered before (and now
// applied from a replayed dead letter) gives back the rows it had counted as failed.
// The two updates are two statements so the second sees the first's counts.
func queueChunkApplied(b *pgx.Batch, tenantID, importID uuid.UUID, seq int, wasDeadLettered bool, rowCount int, o outcome, now time.Time) {
	b.Queue(`UPDATE import_chunks
   SET status = 'applied', applied_at = $4, created_count = $5, updated_count = $6, unchanged_count = $7,
       failed_rows = $8, attempts = attempts + 1
 WHERE tenant_id = $1 AND import_id = $2 AND seq = $3`,
		tenantID, importID, seq, now, o.created, o.updated, o.unchanged, o.rowsFailed).Exec(expectOne)
	revived, revivedRows := 0, 0
	if wasDeadLettered {
		revived, revivedRows = 1, rowCount
	}
	b.Queue(`UPDATE imports
   SET rows_succeeded = rows_succeeded + $4, rows_failed = rows_failed + $5 - $10,
       created_count = created_count + $6, updated_count = updated_count + $7, unchanged_count = unchanged_count + $8,
       chunks_done = chunks_done + 1, chunks_dead_lettered = chunks_dead_lettered - $9, updated_at = $3
 WHERE tenant_id = $1 AND id = $2`,
		tenantID, importID, now, o.rowsSucceeded, o.rowsFailed, o.created, o.updated, o.unchanged, revived, revivedRows).Exec(expectOne)
	queueSettle(b, tenantID, importID, now)
}

// queueSettle sets the import's status from its counts, and its finish time when that
// status is final.
func queueSettle(b *pgx.Batch, tenantID, importID uuid.UUID, now time.Time) {
	b.Queue(`UPDATE imports
   SET status = `+finalStatus+`,
       finished_at = CASE WHEN chunks_done + chunks_dead_lettered < chunks_total THEN NULL ELSE coalesce(finished_at, $3) END,
       failure_reason = CASE
           WHEN chunks_dead_lettered > 0
           THEN chunks_dead_lettered || ' of ' || chunks_total || ' chunks could not be applied and were dead-lettered; their rows are in the errors download'
           WHEN chunks_done = chunks_total AND rows_succeeded = 0 AND rows_total > 0
           THEN 'no row of the file could be imported; the errors download lists why'
           WHEN chunks_total > 0 THEN NULL
           ELSE failure_reason END
 WHERE tenant_id = $1 AND id = $2`, tenantID, importID, now).Exec(expectOne)
}

func expectOne(ct pgconn.CommandTag) error {
	if ct.RowsAffected() != 1 {
		return fmt.Errorf("imports: expected one row, changed %d", ct.RowsAffected())
	}
	return nil
}

// queueChunkFailed records failed delivery attempt attempt (0 when Pub/Sub does not
// count, then the chunk's own count is used) at a chunk that is not applied. At the
// last of maxAttempts the chunk is dead-lettered: its rows count as failed.
func queueChunkFailed(b *pgx.Batch, tenantID, importID uuid.UUID, seq, attempt, maxAttempts int, cause string, now time.Time, deadLettered *bool) {
	b.Queue(`WITH c AS (
    UPDATE import_chunks
       SET attempts = greatest(attempts + 1, $4), last_error = $5,
           status = CASE WHEN greatest(attempts + 1, $4) >= $6 THEN 'dead_lettered' ELSE 'failed' END
     WHERE tenant_id = $1 AND import_id = $2 AND seq = $3 AND status IN ('pending', 'failed')
 RETURNING status, row_count
)
UPDATE imports i
   SET chunks_dead_lettered = chunks_dead_lettered + 1, rows_failed = rows_failed + c.row_count, updated_at = $7
  FROM c
 WHERE i.tenant_id = $1 AND i.id = $2 AND c.status = 'dead_lettered'
RETURNING true`, tenantID, importID, seq, attempt, clip(cause, 2000), maxAttempts, now).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				*deadLettered = true
			}
			return rows.Err()
		})
}

// errorRow is one failed row for the errors download: its cells and every error.
type errorRow struct {
	Row    int               `json:"row"`
	Cells  map[string]string `json:"cells"`
	Errors []RowError        `json:"errors"`
}

// queueErrorColumns reads which canonical columns the failed rows have cells in.
func queueErrorColumns(b *pgx.Batch, tenantID, importID uuid.UUID, out map[string]bool) {
	b.Queue(`SELECT DISTINCT k FROM (
    SELECT jsonb_object_keys(cells) AS k FROM import_row_errors WHERE tenant_id = $1 AND import_id = $2
    UNION ALL
    SELECT jsonb_object_keys(r.value) FROM import_chunks c, jsonb_each(c.cells) r
     WHERE c.tenant_id = $1 AND c.import_id = $2 AND c.status = 'dead_lettered') keys`, tenantID, importID).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					return err
				}
				out[k] = true
			}
			return rows.Err()
		})
}

// errorsSQL lists an import's failed rows' errors in row order: the recorded ones, and
// one for each row of a dead-lettered chunk. Served by import_row_errors_by_row.
const errorsSQL = `
SELECT row_number, column_name, code, reason, cells FROM (
    SELECT row_number, id, column_name, code, reason, cells
      FROM import_row_errors WHERE tenant_id = $1 AND import_id = $2
    UNION ALL
    SELECT r.key::int, 0, NULL, 'chunk_dead_lettered',
           'this row''s chunk (' || c.seq || ') could not be applied after ' || c.attempts || ' attempts; import the row again',
           r.value
      FROM import_chunks c, jsonb_each(c.cells) r
     WHERE c.tenant_id = $1 AND c.import_id = $2 AND c.status = 'dead_lettered') e
 ORDER BY row_number, id`
