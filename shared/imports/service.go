package imports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/audit"
	"github.com/ledgerline/ledgerline/shared/changes"
	"github.com/ledgerline/ledgerline/shared/db"
	"github.com/ledgerline/ledgerline/shared/events"
	"github.com/ledgerline/ledgerline/shared/page"
	"github.com/ledgerline/ledgerline/shared/tabular"
)

// ChunksTopic is the Pub/Sub topic an import's chunks are published to, one message
// per chunk, for the ImportChunks processor.
const ChunksTopic = "ledgerline-import-chunks"

// Chunk bounds: a chunk closes at ChunkRecords records or ChunkRows rows, whichever
// comes first; a record (an invoice and its lines, a payment and its allocations) is
// never split. A thousand invoices is a few round trips and a second or so of work for
// the processor: small enough to retry cheaply, large enough that the per-chunk costs
// (a transaction, a message) vanish in the per-record ones.
const (
	ChunkRecords = 1000
	ChunkRows    = 5000
)

// Status is where an import is.
type Status string

const (
	// Validating: the file is being read. The request that uploads it answers once it
	// has read and stored it, so clients see this only on imports whose request is
	// still running.
	Validating Status = "validating"
	// Running: chunks are being applied.
	Running Status = "running"
	// Completed: every row was applied.
	Completed Status = "completed"
	// CompletedWithErrors: every chunk was applied or dead-lettered, and some rows
	// were imported and some failed (when read, when applied, or with a
	// dead-lettered chunk); the errors download has those.
	CompletedWithErrors Status = "completed_with_errors"
	// Failed: no row could be imported (every row was refused, or every chunk
	// dead-lettered).
	Failed Status = "failed"
)

// Import is an import as the API shows it.
type Import struct {
	ID            uuid.UUID  `json:"id"`
	Object        string     `json:"object"`
	Kind          Kind       `json:"kind"`
	Status        Status     `json:"status"`
	DryRun        bool       `json:"dry_run"`
	FileName      *string    `json:"file_name"`
	Format        string     `json:"format"`
	SizeBytes     int64      `json:"size_bytes"`
	SHA256        string     `json:"sha256"`
	RowsTotal     int        `json:"rows_total"`
	RowsSucceeded int        `json:"rows_succeeded"`
	RowsFailed    int        `json:"rows_failed"`
	Progress      Progress   `json:"progress"`
	Counts        Counts     `json:"counts"`
	FailureReason *string    `json:"failure_reason"`
	ErrorsURL     *string    `json:"errors_url"`
	CreatedBy     string     `json:"created_by"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	FinishedAt    *time.Time `json:"finished_at"`
	// DeadLetteredChunks lists the chunks that could not be applied (Get only; nil in
	// lists).
	DeadLetteredChunks []DeadLetteredChunk `json:"dead_lettered_chunks,omitempty"`
}

// Progress is how far the chunks are.
type Progress struct {
	ChunksTotal        int `json:"chunks_total"`
	ChunksDone         int `json:"chunks_done"`
	ChunksDeadLettered int `json:"chunks_dead_lettered"`
	// Percent of the chunks that are done or dead-lettered, rounded down; 100 when
	// there are none.
	Percent int `json:"percent"`
}

// Counts are what the applied chunks did to the books, or for a dry run what they
// would have done; records (a counterparty, an invoice, a payment), not rows.
type Counts struct {
	Created   *int `json:"created,omitempty"`
	Updated   *int `json:"updated,omitempty"`
	Unchanged *int `json:"unchanged,omitempty"`

	WouldCreate      *int `json:"would_create,omitempty"`
	WouldUpdate      *int `json:"would_update,omitempty"`
	WouldBeUnchanged *int `json:"would_be_unchanged,omitempty"`
}

// countsOf names the counts as a run or a dry run shows them.
func countsOf(dryRun bool, created, updated, unchanged int) Counts {
	if dryRun {
		return Counts{WouldCreate: &created, WouldUpdate: &updated, WouldBeUnchanged: &unchanged}
	}
	return Counts{Created: &created, Updated: &updated, Unchanged: &unchanged}
}

// DeadLetteredChunk is a chunk given up on after its last delivery attempt: its rows
// count as failed and are in the errors download. Replaying its dead letter applies it
// after all.
type DeadLetteredChunk struct {
	Seq      int `json:"seq"`
	Rows     int `json:"rows"`
	Attempts int `json:"attempts"`
}

// Service is the import use cases.
type Service struct {
	DB  *db.DB
	Now func() time.Time
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Upload is a read file to import.
type Upload struct {
	Kind     Kind
	DryRun   bool
	FileName string
	Format   tabular.Format
	Size     int64
	SHA256   [sha256.Size]byte
	Records  Records
}

// ChunkMessage is the body of the message that asks the processor to apply a chunk.
type ChunkMessage struct {
	TenantID uuid.UUID `json:"tenant_id"`
	ImportID uuid.UUID `json:"import_id"`
	Seq      int       `json:"seq"`
}

// Create records the import of a read file for actor's tenant, in one transaction: the
// import, the rows that failed reading with their cells, the records in chunks, and
// one message per chunk in the outbox, published to ChunksTopic after commit (by the
// request, else by the sweeper), so no chunk is lost between the commit and the
// publish. Records any of whose rows failed are not imported: an invoice with a bad
// line is refused whole, and all its rows come back in the errors download together.
func (s *Service) Create(ctx context.Context, actor audit.Actor, up Upload) (Import, error) {
	if !up.Kind.Valid() || up.Records.Kind != up.Kind {
		return Import{}, fmt.Errorf("imports: records of kind %q for an import of %q", up.Records.Kind, up.Kind)
	}
	now := s.now()
	rec := up.Records
	failedRows := map[int]bool{}
	for _, e := range rec.Errors {
		failedRows[e.Row] = true
	}
	chunks, kept := split(rec, failedRows)
	errs := append([]RowError(nil), rec.Errors...)
	for _, r := range dropped(rec, failedRows) {
		// The reader names the rows of a refused invoice or payment itself; a row it
		// did not name is named here, so it still comes back with its siblings.
		if !failedRows[r] {
			errs = append(errs, RowError{Row: r, Code: CodeNotImported, Reason: "another row of the same record has an error"})
			failedRows[r] = true
		}
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Row < errs[j].Row })

	imp := Import{
		ID: uuid.Must(uuid.NewV7()), Object: "import", Kind: up.Kind, Status: Running, DryRun: up.DryRun,
		Format: string(up.Format), SizeBytes: up.Size, SHA256: hex.EncodeToString(up.SHA256[:]),
		RowsTotal: rec.Rows, RowsFailed: rec.Rows - kept, CreatedBy: actor.ID, CreatedAt: now, UpdatedAt: now,
		Progress: Progress{ChunksTotal: len(chunks)}, Counts: countsOf(up.DryRun, 0, 0, 0),
	}
	if up.FileName != "" {
		name := up.FileName
		imp.FileName = &name
	}
	if imp.RowsFailed < 0 {
		imp.RowsFailed = 0
	}
	if len(chunks) == 0 {
		// Nothing to apply: every row was refused when the file was read.
		imp.Status, imp.FinishedAt = Failed, &now
		reason := "no row of the file could be imported; the errors download lists why"
		imp.FailureReason = &reason
	}
	imp.finish()

	state := importRow{Import: imp, sha: up.SHA256[:], actorType: actor.Type, requestID: actor.RequestID,
		traceParent: actor.TraceParent}
	msgs := make([]events.Event, len(chunks))
	for i, c := range chunks {
		body, err := json.Marshal(ChunkMessage{TenantID: actor.TenantID, ImportID: imp.ID, Seq: c.seq})
		if err != nil {
			return Import{}, err
		}
		msgs[i] = events.Event{
			ID: uuid.Must(uuid.NewV7()), TenantID: actor.TenantID, Type: "import.chunk", EntityType: "import",
			EntityID: imp.ID, EntityVersion: c.seq, Data: body, RequestID: actor.RequestID, CreatedAt: now,
			TraceParent: actor.TraceParent, Topic: ChunksTopic,
		}
	}
	log := changes.New(actor, now)
	log.Add(changes.Change{Type: "import.created", EntityType: "import", EntityID: imp.ID, Version: 1, After: imp})
	err := s.DB.InTenantTx(ctx, actor.TenantID, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueInsertImport(b, actor.TenantID, state)
		if err := queueInsertRowErrors(b, actor.TenantID, imp.ID, nil, errs, rec.Cells); err != nil {
			return err
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		// Chunks go in batches of their own: a batch's statements are held in memory
		// until it is sent, and a file's chunks can be tens of megabytes.
		for start := 0; start < len(chunks); start += 8 {
			b := &pgx.Batch{}
			for _, c := range chunks[start:min(start+8, len(chunks))] {
				records, cells, err := c.encode(rec.Cells)
				if err != nil {
					return err
				}
				queueInsertChunk(b, actor.TenantID, imp.ID, c, records, cells)
			}
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return err
			}
		}
		b = &pgx.Batch{}
		events.QueueMany(b, msgs)
		if err := log.Queue(b); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return Import{}, db.Map(err)
	}
	return imp, nil
}

// finish derives what the API shows from the stored numbers.
func (imp *Import) finish() {
	p := &imp.Progress
	p.Percent = 100
	if p.ChunksTotal > 0 {
		p.Percent = (p.ChunksDone + p.ChunksDeadLettered) * 100 / p.ChunksTotal
	}
	if imp.RowsFailed > 0 {
		u := "/v1/imports/" + imp.ID.String() + "/errors"
		imp.ErrorsURL = &u
	}
}

// Get returns one import with its dead-lettered chunks.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (Import, error) {
	var imp Import
	var found bool
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) {
		queueGet(b, tenantID, id, &imp, &found)
		queueDeadLettered(b, tenantID, id, &imp.DeadLetteredChunks)
	}); err != nil {
		return Import{}, err
	}
	if !found {
		return Import{}, apperr.NotFoundf("import")
	}
	if imp.DeadLetteredChunks == nil {
		imp.DeadLetteredChunks = []DeadLetteredChunk{}
	}
	return imp, nil
}

// List returns a page of the tenant's imports, newest first.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, p page.Params) (page.List[Import], error) {
	var rows []Import
	if err := s.DB.Read(ctx, tenantID, func(b *pgx.Batch) { queueList(b, tenantID, p, &rows) }); err != nil {
		return page.List[Import]{}, err
	}
	return page.Of(rows, p.Limit), nil
}

// chunk is a slice of an import's records: the records and their rows. It is
// encoded (encode) only when it is stored, one batch of chunks at a time, so a large
// file is never held twice in memory, as records and as JSON.
type chunk struct {
	seq  int
	recs Records
	rows []int
}

// encode is the chunk as stored: its Records, and its rows' cells by row number.
func (c chunk) encode(cells map[int]map[string]string) (records, rowCells []byte, err error) {
	own := make(map[int]map[string]string, len(c.rows))
	for _, r := range c.rows {
		own[r] = cells[r]
		if own[r] == nil {
			own[r] = map[string]string{}
		}
	}
	if records, err = json.Marshal(c.recs); err != nil {
		return nil, nil, err
	}
	if rowCells, err = json.Marshal(own); err != nil {
		return nil, nil, err
	}
	return records, rowCells, nil
}

// split cuts the records that have no failed row into chunks and reports how many
// rows they hold.
func split(rec Records, failed map[int]bool) ([]chunk, int) {
	var out []chunk
	kept := 0
	cur := chunk{recs: Records{Kind: rec.Kind}}
	flush := func() {
		if len(cur.rows) == 0 {
			return
		}
		cur.seq = len(out) + 1
		out = append(out, cur)
		kept += len(cur.rows)
		cur = chunk{recs: Records{Kind: rec.Kind}}
	}
	add := func(rs []int, put func()) {
		for _, r := range rs {
			if failed[r] {
				return
			}
		}
		if cur.recs.count() >= ChunkRecords || (len(cur.rows) > 0 && len(cur.rows)+len(rs) > ChunkRows) {
			flush()
		}
		put()
		cur.rows = append(cur.rows, rs...)
	}
	for _, r := range rec.Counterparties {
		add(r.Rows, func() { cur.recs.Counterparties = append(cur.recs.Counterparties, r) })
	}
	for _, r := range rec.Invoices {
		add(r.Rows, func() { cur.recs.Invoices = append(cur.recs.Invoices, r) })
	}
	for _, r := range rec.Payments {
		add(r.Rows, func() { cur.recs.Payments = append(cur.recs.Payments, r) })
	}
	flush()
	return out, kept
}

// dropped lists the rows of records that are not imported because one of their rows
// failed.
func dropped(rec Records, failed map[int]bool) []int {
	var out []int
	check := func(rs []int) {
		for _, r := range rs {
			if failed[r] {
				out = append(out, rs...)
				return
			}
		}
	}
	for _, r := range rec.Counterparties {
		check(r.Rows)
	}
	for _, r := range rec.Invoices {
		check(r.Rows)
	}
	for _, r := range rec.Payments {
		check(r.Rows)
	}
	return out
}

// count is the number of records.
func (r Records) count() int { return len(r.Counterparties) + len(r.Invoices) + len(r.Payments) }

// File is a file uploaded to import.
type File struct {
	Kind        Kind
	DryRun      bool
	Name        string // as uploaded; "" when not given
	ContentType string
	Data        []byte
}

// Upload reads f within lim and records its import (see Create). The whole file is
// read and checked before anything is stored: a file refused as a whole (unreadable,
// over a limit, a header that does not fit) answers its problem and leaves no import.
func (s *Service) Upload(ctx context.Context, actor audit.Actor, f File, lim Limits) (Import, error) {
	head := f.Data[:min(len(f.Data), 512)]
	format, ok := DetectFormat(f.ContentType, f.Name, head)
	if !ok {
		return Import{}, apperr.New(apperr.UnsupportedMediaType, "unsupported_media_type",
			"an import is a CSV or XLSX file; this one is neither (Content-Type "+f.ContentType+")")
	}
	rec, err := Read(bytes.NewReader(f.Data), format, f.Kind, lim)
	if err != nil {
		return Import{}, err
	}
	return s.Create(ctx, actor, Upload{
		Kind: f.Kind, DryRun: f.DryRun, FileName: f.Name, Format: format, Size: int64(len(f.Data)),
		SHA256: sha256.Sum256(f.Data), Records: rec,
	})
}
