package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ledgerline/ledgerline/shared/auth"
)

// Exit statuses of `ledgerline import` beyond 0 (completed) and 1 (failed, or the
// import could not be started): rows failed but others were imported.
const exitCompletedWithErrors = 3

// exitStatus is an error that ends the command with a status of its own.
type exitStatus struct {
	code int
	msg  string
}

func (e *exitStatus) Error() string { return e.msg }

// importUsage is the import subcommand's help.
const importUsage = `usage: ledgerline import FILE --kind counterparties|invoices|payments [flags]

Uploads FILE (CSV or XLSX) to a running Ledgerline, shows the import's progress until
it finishes, and prints what it did. The exit status is 0 when every row was
imported, 3 when some rows failed (the errors file says which and why), and 1 when
the import failed or could not start.

flags:
`

// importFlags are the import subcommand's options.
type importFlags struct {
	file, kind, server, token, errorsOut string
	dryRun                               bool
	poll                                 time.Duration
}

// runImport is `ledgerline import`.
func runImport(ctx context.Context, args []string) error {
	return importCommand(ctx, args, os.Stdout, os.Stderr, http.DefaultClient)
}

func importCommand(ctx context.Context, args []string, stdout, stderr io.Writer, client *http.Client) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fs.PrintDefaults()
	}
	var f importFlags
	fs.StringVar(&f.kind, "kind", "", "what FILE holds: counterparties, invoices or payments")
	fs.BoolVar(&f.dryRun, "dry-run", false, "check and report what would change, writing nothing")
	fs.StringVar(&f.server, "server", "", "Ledgerline's base URL (default: the running dev server, else http://127.0.0.1:$PORT or :8080)")
	fs.StringVar(&f.token, "token", "", "bearer token (default: $LEDGERLINE_TOKEN, $TOKEN, else a development token for the dev server's demo tenant)")
	fs.StringVar(&f.errorsOut, "errors-out", "", "when rows fail, save the errors file (CSV) here")
	fs.DurationVar(&f.poll, "poll", 500*time.Millisecond, "how often to ask for progress")
	// The file may come before or after the flags.
	var rest []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return &exitStatus{code: 2, msg: err.Error()}
		}
		args = fs.Args()
		if len(args) > 0 {
			rest = append(rest, args[0])
			args = args[1:]
		}
	}
	if len(rest) != 1 || f.kind == "" {
		fs.Usage()
		return &exitStatus{code: 2, msg: "import needs one FILE and --kind"}
	}
	f.file = rest[0]
	if f.server == "" {
		f.server = defaultServer()
	}
	if f.token == "" {
		tok, err := defaultToken()
		if err != nil {
			return err
		}
		f.token = tok
	}
	c := &importClient{base: strings.TrimRight(f.server, "/"), token: f.token, http: client}
	return c.run(ctx, f, stdout, stderr)
}

// defaultServer is the running dev server's address, else the local default.
func defaultServer() string {
	if st, err := readDevState(); err == nil && st.BaseURL != "" {
		return st.BaseURL
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	return "http://127.0.0.1:" + port
}

// defaultToken is the token of the environment, else a development token for the
// demo tenant the dev server creates, signed with the development key it trusts.
func defaultToken() (string, error) {
	for _, v := range []string{"LEDGERLINE_TOKEN", "TOKEN"} {
		if t := os.Getenv(v); t != "" {
			return t, nil
		}
	}
	iss, err := auth.LoadOrCreateDevIssuer(devKeyFile(), auth.DevIssuerName, devAudience)
	if err != nil {
		return "", fmt.Errorf("no --token, $LEDGERLINE_TOKEN or $TOKEN, and no development key: %w", err)
	}
	return iss.Issue(DemoTenant, "dev-user", []auth.Role{auth.RoleOwner}, time.Hour)
}

// importClient talks to one server as one caller.
type importClient struct {
	base, token string
	http        *http.Client
}

// importState is what the command reads of an import.
type importState struct {
	ID            string         `json:"id"`
	Status        string         `json:"status"`
	DryRun        bool           `json:"dry_run"`
	RowsTotal     int            `json:"rows_total"`
	RowsSucceeded int            `json:"rows_succeeded"`
	RowsFailed    int            `json:"rows_failed"`
	Counts        map[string]int `json:"counts"`
	FailureReason *string        `json:"failure_reason"`
	ErrorsURL     *string        `json:"errors_url"`
	Progress      struct {
		ChunksTotal        int `json:"chunks_total"`
		ChunksDone         int `json:"chunks_done"`
		ChunksDeadLettered int `json:"chunks_dead_lettered"`
	} `json:"progress"`
}

func (s importState) finished() bool {
	return s.Status == "completed" || s.Status == "completed_with_errors" || s.Status == "failed"
}

// importProblem is an error response of the API.
type importProblem struct {
	Status int               `json:"status"`
	Code   string            `json:"code"`
	Detail string            `json:"detail"`
	Errors map[string]string `json:"errors"`
}

func (p importProblem) Error() string {
	msg := fmt.Sprintf("%d %s", p.Status, p.Code)
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	for field, why := range p.Errors {
		msg += fmt.Sprintf("\n  %s: %s", field, why)
	}
	return msg
}

// gzipAbove is the size from which a file is sent gzip-compressed: a large CSV shrinks
// to a tenth, well under the 32 MiB Cloud Run takes in one HTTP/1 request.
const gzipAbove = 1 << 20

func (c *importClient) run(ctx context.Context, f importFlags, stdout, stderr io.Writer) error {
	data, err := os.ReadFile(f.file)
	if err != nil {
		return err
	}
	name := filepath.Base(f.file)
	contentType := "text/csv"
	if strings.EqualFold(filepath.Ext(name), ".xlsx") {
		contentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	body, encoding := data, ""
	if len(data) > gzipAbove && contentType == "text/csv" {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(data)
		if err := zw.Close(); err != nil {
			return err
		}
		body, encoding = z.Bytes(), "gzip"
	}
	q := url.Values{"kind": {f.kind}}
	if f.dryRun {
		q.Set("dry_run", "true")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/v1/imports?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	fmt.Fprintf(stderr, "uploading %s (%s) to %s\n", name, size(len(data)), c.base)
	var st importState
	if err := c.do(req, http.StatusAccepted, &st); err != nil {
		return &exitStatus{code: 1, msg: "upload refused: " + err.Error()}
	}
	fmt.Fprintf(stderr, "import %s: %d rows read, %d chunks\n", st.ID, st.RowsTotal, st.Progress.ChunksTotal)

	bar := progressbar.NewOptions(max(st.Progress.ChunksTotal, 1),
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription("applying chunks"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
	)
	for !st.finished() {
		_ = bar.Set(st.Progress.ChunksDone + st.Progress.ChunksDeadLettered)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(f.poll):
		}
		if st, err = c.get(ctx, st.ID); err != nil {
			return err
		}
	}
	_ = bar.Set(st.Progress.ChunksTotal)
	_ = bar.Finish()
	c.report(stdout, st)
	if st.RowsFailed > 0 && f.errorsOut != "" {
		if err := c.download(ctx, st, f.errorsOut); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "failed rows saved to %s: fix them and import the file again\n", f.errorsOut)
	}
	switch st.Status {
	case "failed":
		return &exitStatus{code: 1, msg: "the import failed"}
	case "completed_with_errors":
		return &exitStatus{code: exitCompletedWithErrors, msg: fmt.Sprintf("%d rows were not imported", st.RowsFailed)}
	}
	return nil
}

// report prints what the import did.
func (c *importClient) report(w io.Writer, st importState) {
	verb := ""
	if st.DryRun {
		verb = " (dry run: nothing was written)"
	}
	fmt.Fprintf(w, "import %s %s%s\n", st.ID, st.Status, verb)
	fmt.Fprintf(w, "  rows: %d total, %d imported, %d failed\n", st.RowsTotal, st.RowsSucceeded, st.RowsFailed)
	if st.DryRun {
		fmt.Fprintf(w, "  would create %d, update %d, leave %d unchanged\n",
			st.Counts["would_create"], st.Counts["would_update"], st.Counts["would_be_unchanged"])
	} else {
		fmt.Fprintf(w, "  created %d, updated %d, unchanged %d\n", st.Counts["created"], st.Counts["updated"], st.Counts["unchanged"])
	}
	if st.Progress.ChunksDeadLettered > 0 {
		fmt.Fprintf(w, "  %d of %d chunks could not be applied (dead-lettered)\n", st.Progress.ChunksDeadLettered, st.Progress.ChunksTotal)
	}
	if st.FailureReason != nil {
		fmt.Fprintf(w, "  %s\n", *st.FailureReason)
	}
	if st.ErrorsURL != nil {
		fmt.Fprintf(w, "  failed rows: %s%s (CSV; ?format=xlsx or json)\n", c.base, *st.ErrorsURL)
		fmt.Fprintf(w, "    curl -H \"Authorization: Bearer $TOKEN\" -o errors.csv '%s%s'\n", c.base, *st.ErrorsURL)
	}
}

func (c *importClient) get(ctx context.Context, id string) (importState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/imports/"+url.PathEscape(id), nil)
	if err != nil {
		return importState{}, err
	}
	var st importState
	return st, c.do(req, http.StatusOK, &st)
}

func (c *importClient) download(ctx context.Context, st importState, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+*st.ErrorsURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readProblem(resp)
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, resp.Body); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// do sends req with the token and decodes the response, which must have status want.
func (c *importClient) do(req *http.Request, want int, out any) error {
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		return readProblem(resp)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func readProblem(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p importProblem
	if json.Unmarshal(b, &p) != nil || p.Code == "" {
		return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return p
}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// exitCode is the status err asks the process to end with.
func exitCode(err error) int {
	var es *exitStatus
	if errors.As(err, &es) {
		return es.code
	}
	return 1
}
