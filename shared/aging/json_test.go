package aging

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"cloud.google.com/go/civil"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// AppendJSON must write exactly what encoding/json writes for the same report: the
// struct tags stay the contract (and the OpenAPI document checks them).
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	names := []string{"Acme", "", `quote " and \ backslash`, "tab\tnew\nline\r", "<b>&amp;</b>", "ünïcødé 日本",
		"ctl \x00\x01\x1f", "bad utf8 \xff\xfe", "sep \u2028 \u2029", "=HYPERLINK(\"x\")"}
	rng := rand.New(rand.NewPCG(7, 7))
	for n := range 200 {
		edges := []int{30, 60, 90}[:1+rng.IntN(3)]
		ranges := Ranges(edges)
		r := Report{Object: "aging_report", Direction: Payable, AsOf: civil.Date{Year: 2026, Month: 2, Day: 1 + rng.IntN(28)},
			Basis: IssueDate, Edges: edges, Buckets: ranges[:len(edges)], OlderFromDays: ranges[len(edges)].FromDays,
			Lines: []Line{}, Totals: []Total{}, TieOut: []TieOut{}}
		if n%2 == 0 {
			id, cur := uuid.New(), "JPY"
			r.CounterpartyID, r.Currency = &id, &cur
		}
		for range rng.IntN(4) {
			bs := make([]int64, len(edges))
			for i := range bs {
				bs[i] = rng.Int64N(1 << 62)
			}
			r.Lines = append(r.Lines, Line{CounterpartyID: uuid.New(), CounterpartyName: names[rng.IntN(len(names))],
				Currency: "USD", CurrentMinor: rng.Int64(), Buckets: bs, OlderMinor: -rng.Int64(), TotalMinor: 1, InvoiceCount: 3})
			r.Totals = append(r.Totals, Total{Currency: "EUR", Buckets: bs, TotalMinor: rng.Int64()})
			r.TieOut = append(r.TieOut, TieOut{Currency: "KWD", AgedTotalMinor: 5, OpenBalanceMinor: 4, DifferenceMinor: 1, InvoiceCount: 2, TiesOut: n%3 == 0})
		}
		want, err := json.Marshal(r)
		require.NoError(t, err)
		require.Equal(t, string(want), string(r.AppendJSON(nil)))
	}
}

func TestWriteJSONInBlocks(t *testing.T) {
	ranges := Ranges([]int{30, 60, 90, 120})
	r := Report{Object: "aging_report", Direction: Receivable, Basis: DueDate, Edges: []int{30, 60, 90, 120},
		Buckets: ranges[:4], OlderFromDays: 121, Lines: []Line{}, Totals: []Total{}, TieOut: []TieOut{}}
	for i := range 2000 {
		r.Lines = append(r.Lines, Line{CounterpartyID: uuid.New(), CounterpartyName: strings.Repeat("n", i%40),
			Currency: "USD", Buckets: []int64{1, 22, 333, 4444}, TotalMinor: 4800, InvoiceCount: 12})
	}
	var w writes
	require.NoError(t, r.WriteJSON(&w))
	require.Equal(t, string(r.AppendJSON(nil))+"\n", w.buf.String())
	require.Greater(t, w.n, 2, "written in blocks")
	require.NoError(t, json.Unmarshal(w.buf.Bytes(), &map[string]any{}))

	require.ErrorIs(t, r.WriteJSON(failing{}), errFailing, "a write error is returned")
}

type writes struct {
	buf bytes.Buffer
	n   int
}

func (w *writes) Write(p []byte) (int, error) { w.n++; return w.buf.Write(p) }

var errFailing = errors.New("connection reset")

type failing struct{}

func (failing) Write([]byte) (int, error) { return 0, errFailing }
