// Package create is the ImportsCreate function: POST /v1/imports, the upload of a CSV
// or XLSX file of counterparties, invoices or payments. It answers 202 with the import
// once the file is read and its chunks are stored; the ImportChunks processor applies
// them.
package create

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/auth"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/imports"
	"github.com/ledgerline/ledgerline/shared/platform"
)

func init() { platform.HTTP("ImportsCreate", New) }

// writes is what each kind of import writes: an import may write only what its
// caller could write one record at a time.
var writes = map[imports.Kind]auth.Permission{
	imports.Counterparties: auth.CounterpartiesWrite,
	imports.Invoices:       auth.InvoicesWrite,
	imports.Payments:       auth.PaymentsWrite,
}

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := &imports.Service{DB: d.DB, Now: d.Now}
	lim := imports.Limits{MaxBytes: d.Config.ImportMaxBytes, MaxRows: d.Config.ImportMaxRows}
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		q := httpx.NewQuery(r)
		kind := httpx.Enum(q, "kind", imports.Kind.Valid, "must be counterparties, invoices or payments")
		if kind == nil {
			q.Invalid("kind", "is required: counterparties, invoices or payments")
		}
		dryRun := q.Bool("dry_run")
		name := q.String("filename")
		if err := q.Err(); err != nil {
			return err
		}
		if perm := writes[*kind]; !platform.Principal(r).Can(perm) {
			return auth.Forbidden(perm)
		}
		f, err := file(r)
		if err != nil {
			return err
		}
		f.Kind, f.DryRun = *kind, dryRun != nil && *dryRun
		if name != "" {
			f.Name = name
		}
		imp, err := svc.Upload(r.Context(), platform.Actor(r), f, lim)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/imports/"+imp.ID.String())
		return httpx.JSON(w, http.StatusAccepted, imp)
	})
}

// file is the uploaded file: the body itself, named by Content-Disposition, or the
// part named "file" of a multipart/form-data body.
func file(r *http.Request) (imports.File, error) {
	body := platform.Body(r)
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	if mt != "multipart/form-data" {
		f := imports.File{ContentType: ct, Data: body}
		if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil {
			f.Name = p["filename"]
		}
		return f, nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return imports.File{}, apperr.Validation(map[string]string{"file": "is required: the multipart body has no part named file"})
		}
		if err != nil {
			return imports.File{}, apperr.Wrap(err, apperr.Invalid, "malformed_multipart", "the multipart/form-data body is malformed")
		}
		if part.FormName() != "file" {
			continue
		}
		// The part is a slice of the body already in memory, within the upload cap.
		data, err := io.ReadAll(part)
		if err != nil {
			return imports.File{}, apperr.Wrap(err, apperr.Invalid, "malformed_multipart", "the multipart/form-data body is malformed")
		}
		return imports.File{Name: part.FileName(), ContentType: part.Header.Get("Content-Type"), Data: data}, nil
	}
}
