package tabular_test

import (
	"bytes"
	"encoding/csv"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ledgerline/ledgerline/shared/tabular"
)

// dangerous reports whether s would start a formula in a spreadsheet.
func dangerous(s string) bool {
	return s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0]))
}

// FuzzNeutralise: the result never starts a formula, and it is the input itself or the
// input behind one quote.
func FuzzNeutralise(f *testing.F) {
	for _, s := range []string{"", "=1+1", "+", "-5", "@x", "\t", "\r\n", "'=", "plain", "Ω"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := tabular.Neutralise(s)
		if dangerous(got) {
			t.Fatalf("Neutralise(%q) = %q still starts a formula", s, got)
		}
		if got != s && got != "'"+s {
			t.Fatalf("Neutralise(%q) = %q changed more than a prefix", s, got)
		}
		if (got != s) != dangerous(s) {
			t.Fatalf("Neutralise(%q) = %q: prefixed %v, dangerous %v", s, got, got != s, dangerous(s))
		}
	})
}

// FuzzCSVRoundTrip: any text read back with encoding/csv is the text as written, apart
// from the quote before a formula and line breaks normalised to LF; the neighbouring
// cells are intact, so no text can break out of its field.
func FuzzCSVRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a,b", `"`, "\"\"", "\n", "\r", "\r\n", "x\ry", "=1", "-1", " lead", "trail ", "é", "\x00", "a\"b\"c,\n"} {
		f.Add(s, int64(-12345))
	}
	cols := []tabular.Column{{Header: "text", Kind: tabular.Text}, {Header: "amount", Kind: tabular.Amount}, {Header: "more", Kind: tabular.Text}}
	f.Fuzz(func(t *testing.T, s string, minor int64) {
		if !utf8.ValidString(s) {
			t.Skip("text from PostgreSQL is always valid UTF-8")
		}
		rec := httptest.NewRecorder()
		w, err := tabular.NewWriter(rec, tabular.CSV, "fuzz", cols)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRow(tabular.TextCell(s), tabular.AmountCell(minor, "EUR"), tabular.TextCell(s)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		records, err := csv.NewReader(bytes.NewReader(rec.Body.Bytes())).ReadAll()
		if err != nil {
			t.Fatalf("%q: %v\n%q", s, err, rec.Body.String())
		}
		if len(records) != 2 || len(records[1]) != 3 {
			t.Fatalf("%q came back as %q", s, records)
		}
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(tabular.Neutralise(s))
		if records[1][0] != want || records[1][2] != want {
			t.Fatalf("%q came back as %q, want %q", s, records[1], want)
		}
		if dangerous(records[1][0]) {
			t.Fatalf("%q came back as %q, a formula", s, records[1][0])
		}
		if amount := records[1][1]; dangerous(amount) && !strings.HasPrefix(amount, "-") {
			t.Fatalf("amount %d came back as %q", minor, amount)
		}
	})
}
