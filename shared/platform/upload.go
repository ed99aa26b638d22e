package platform

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"

	"github.com/ledgerline/ledgerline/shared/apperr"
	"github.com/ledgerline/ledgerline/shared/httpx"
)

// DefaultUploadMaxBytes caps an uploaded file when the configuration names no cap
// (IMPORT_MAX_BYTES unset in a configuration built by hand).
const DefaultUploadMaxBytes = 50 << 20

// forUpload is the validator of an operation whose body is an uploaded file: the
// parameters are checked against the contract as for any operation, the body is not
// (it is a CSV or XLSX file the function reads itself; readUpload has checked its
// media type).
func (v *validator) forUpload() *validator {
	opts := *v.opts
	opts.ExcludeRequestBody = true
	return &validator{route: v.route, opts: &opts, upload: true}
}

// mediaTypes are the media types the operation's request body accepts.
func (v *validator) mediaTypes() []string {
	var out []string
	if rb := v.route.Operation.RequestBody; rb != nil && rb.Value != nil {
		for mt := range rb.Value.Content {
			out = append(out, mt)
		}
	}
	sort.Strings(out)
	return out
}

// readUpload reads an uploaded file once, like readBody a JSON body, within
// IMPORT_MAX_BYTES (an import is far larger than any JSON request) and refusing media
// types the operation does not list (415). A body sent with Content-Encoding: gzip is
// inflated as it is read, and the cap applies to the inflated file, so compression can
// neither smuggle a larger file in nor blow up memory: reading stops one byte past it.
func readUpload(v *validator) func(d *Deps, next http.Handler) http.Handler {
	accepted := v.mediaTypes()
	return func(d *Deps, next http.Handler) http.Handler {
		limit := d.Config.ImportMaxBytes
		if limit <= 0 {
			limit = DefaultUploadMaxBytes
		}
		return httpx.Handle(func(w http.ResponseWriter, r *http.Request) error {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || !contains(accepted, mt) {
				return apperr.New(apperr.UnsupportedMediaType, "unsupported_media_type",
					"the body must be the file itself, as one of "+strings.Join(accepted, ", "))
			}
			b, err := readCapped(r, limit)
			if err != nil {
				return err
			}
			r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, b))
			r.Body = io.NopCloser(bytes.NewReader(b))
			next.ServeHTTP(w, r)
			return nil
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func readCapped(r *http.Request, limit int64) ([]byte, error) {
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		if r.ContentLength > limit {
			return nil, uploadTooLarge(limit)
		}
	case "gzip":
		zr, err := gzip.NewReader(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return nil, apperr.Wrap(err, apperr.Invalid, "unreadable_body", "the body is not valid gzip")
		}
		defer zr.Close()
		body = zr
	default:
		return nil, apperr.New(apperr.UnsupportedMediaType, "unsupported_content_encoding",
			fmt.Sprintf("Content-Encoding %q is not supported; send the file as it is or gzip-compressed", enc))
	}
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, uploadTooLarge(limit)
		}
		return nil, apperr.Wrap(err, apperr.Invalid, "unreadable_body", "the uploaded file could not be read to its end")
	}
	if int64(len(b)) > limit {
		return nil, uploadTooLarge(limit)
	}
	return b, nil
}

func uploadTooLarge(limit int64) error {
	size := fmt.Sprintf("%d bytes", limit)
	if limit%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB", limit>>20)
	}
	return apperr.New(apperr.TooLarge, "body_too_large",
		"the uploaded file is larger than "+size+", the most one upload takes; split it into several files")
}
