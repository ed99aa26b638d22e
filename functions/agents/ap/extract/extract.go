// Package extract is the AgentsAPExtract function: POST /v1/agents/ap/extract. The AP
// agent reads a vendor's bill and what it extracts is stored as a bill proposal (201)
// for a person to approve. The bill is text: a JSON body {"text": "..."}, the text
// file itself (text/plain), or a multipart/form-data part named file. Documents that
// are not text (PDF, images) are converted upstream; this endpoint does no OCR.
package extract

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
	"github.com/ledgerline/ledgerline/shared/platform"
	"github.com/ledgerline/ledgerline/shared/proposals"
)

func init() { platform.HTTP("AgentsAPExtract", New) }

// Input is the JSON form of the request.
type Input struct {
	Text string `json:"text"`
}

// New builds the handler over the instance's dependencies.
func New(d *platform.Deps) http.Handler {
	svc := proposals.New(d.DB, d.Now, d.Agents, d.Cache)
	return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
		text, err := document(r)
		if err != nil {
			return err
		}
		p, err := svc.ExtractBill(r.Context(), platform.Actor(r), text)
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/proposals/"+p.ID.String())
		httpx.SetETag(w, p.Version)
		return httpx.JSON(w, http.StatusCreated, p)
	})
}

// document is the bill's text, from whichever form the request takes. The platform
// has checked the media type against the operation's and read the body within the
// upload cap; the text's own cap is the domain's.
func document(r *http.Request) (string, error) {
	body := platform.Body(r)
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		var in Input
		if err := httpx.DecodeJSON(body, &in); err != nil {
			return "", err
		}
		return in.Text, nil
	case "multipart/form-data":
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return "", apperr.Validation(map[string]string{"file": "is required: the multipart body has no part named file"})
			}
			if err != nil {
				return "", apperr.Wrap(err, apperr.Invalid, "malformed_multipart", "the multipart/form-data body is malformed")
			}
			if part.FormName() != "file" {
				continue
			}
			// Clients that do not know a file's type send application/octet-stream;
			// whether it is text is the domain's check (UTF-8).
			if ct := part.Header.Get("Content-Type"); ct != "" {
				if pmt, _, _ := mime.ParseMediaType(ct); pmt != "text/plain" && pmt != "application/octet-stream" {
					return "", apperr.New(apperr.UnsupportedMediaType, "unsupported_media_type",
						"the file must be text (text/plain); convert other documents to text first")
				}
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return "", apperr.Wrap(err, apperr.Invalid, "malformed_multipart", "the multipart/form-data body is malformed")
			}
			return string(data), nil
		}
	default: // text/plain: the text file itself
		return string(body), nil
	}
}
