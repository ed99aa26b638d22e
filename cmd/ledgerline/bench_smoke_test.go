package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBenchSmoke runs the whole benchmark on a tiny seed, so the harness cannot rot
// between full runs: every section must be there, every request must succeed, and
// every measured rate must be above zero. The figures themselves mean nothing here.
func TestBenchSmoke(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain to build the binary with")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	start := time.Now()
	rep, err := benchMain(ctx, []string{"--smoke", "--out", out}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s", stderr.String())
	t.Logf("smoke run took %s", time.Since(start).Round(time.Millisecond))

	md := stdout.String()
	for _, section := range []string{"# Ledgerline benchmark", "## Load (open model)", "## PostgreSQL's limit",
		"## Cold start", "## Targets"} {
		require.Contains(t, md, section)
	}
	require.NotContains(t, md, "## First errors", md)

	require.Len(t, rep.Load, 4, "every endpoint at the one smoke rate")
	for _, row := range rep.Load {
		require.Zero(t, row.Errors, "%s: %v", row.Endpoint, row.Median.ErrorSamples)
		require.Positive(t, row.Median.AchievedRPS, row.Endpoint)
		require.Positive(t, row.Median.P50Ms, row.Endpoint)
		require.Positive(t, row.Median.PeakRSSMiB, row.Endpoint)
	}
	require.Len(t, rep.Compare, 3, "create, get and pay are compared with pgbench")
	for _, c := range rep.Compare {
		require.Zero(t, c.Errors, "%s: %v", c.Endpoint, c.Ours.ErrorSamples)
		require.Positive(t, c.PgbenchTPS, c.Endpoint)
		require.Positive(t, c.Ours.AchievedRPS, c.Endpoint)
		for _, r := range c.Runs {
			require.Zero(t, r.Pgbench.Failed, c.Endpoint)
			require.Positive(t, r.Pgbench.Processed, c.Endpoint)
		}
	}
	require.NotNil(t, rep.Imports)
	require.Contains(t, md, "## Bulk import")
	require.Equal(t, "completed", rep.Imports.Status)
	require.Equal(t, 3*rep.Imports.Sizes.Invoices, rep.Imports.Imported)
	require.Zero(t, rep.Imports.Failed)
	require.Positive(t, rep.Imports.Ratio)
	require.Len(t, rep.ColdStart.Samples, 3)
	require.Positive(t, rep.ColdStart.MedianMs)
	require.Positive(t, rep.ColdStart.MedianRSSMiB)
	require.Contains(t, rep.Seed.Verified, "audit chain verified for 2 of 2 tenants")
	var noErrors, found bool
	for _, tg := range rep.Targets {
		if strings.HasPrefix(tg.Name, "no errors") {
			noErrors, found = tg.Met, true
		}
	}
	require.True(t, found, "the report judges errors")
	require.True(t, noErrors)

	b, err := os.ReadFile(out)
	require.NoError(t, err)
	var js map[string]any
	require.NoError(t, json.Unmarshal(b, &js))
	for _, k := range []string{"header", "seed", "load", "compare", "cold_start", "targets"} {
		require.Contains(t, js, k)
	}
}
