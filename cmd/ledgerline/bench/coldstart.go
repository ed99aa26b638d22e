package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ColdSample is one cold start: from exec to the first successful response, and the
// process's resident memory right after it.
type ColdSample struct {
	Millis float64 `json:"ms"`
	RSSMiB float64 `json:"rss_mib"`
}

// ColdStarts summarises the cold starts of one function.
type ColdStarts struct {
	Function     string       `json:"function"`
	Samples      []ColdSample `json:"samples"`
	MedianMs     float64      `json:"median_ms"`
	MinMs        float64      `json:"min_ms"`
	MaxMs        float64      `json:"max_ms"`
	MedianRSSMiB float64      `json:"median_rss_mib"`
}

// coldPoll is how often a starting process is asked for its first response.
const coldPoll = time.Millisecond

// coldStart starts the function n times and times each start to its first 200 to req,
// which includes what Cloud Run's first request pays: process start, package
// initialisation, and the dependencies (configuration, key, pool and its first
// connection) built on that request.
func coldStart(ctx context.Context, s *stack, name string, maxConns, n int, req Request) (ColdStarts, error) {
	out := ColdStarts{Function: name}
	for range n {
		sample, err := oneColdStart(ctx, s, name, maxConns, req)
		if err != nil {
			return out, err
		}
		out.Samples = append(out.Samples, sample)
	}
	var msv, rss []float64
	for i, c := range out.Samples {
		msv, rss = append(msv, c.Millis), append(rss, c.RSSMiB)
		if i == 0 || c.Millis < out.MinMs {
			out.MinMs = c.Millis
		}
		out.MaxMs = max(out.MaxMs, c.Millis)
	}
	out.MedianMs, out.MedianRSSMiB = Median(msv), Median(rss)
	return out, nil
}

func oneColdStart(ctx context.Context, s *stack, name string, maxConns int, req Request) (ColdSample, error) {
	// A fresh transport per start: no connection survives from the previous process.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	start := time.Now()
	p, err := s.launch(name, maxConns)
	if err != nil {
		return ColdSample{}, err
	}
	defer p.stop()
	deadline := start.Add(30 * time.Second)
	last := ""
	for {
		r, err := http.NewRequestWithContext(ctx, req.Method, p.base+req.Path, nil)
		if err != nil {
			return ColdSample{}, err
		}
		r.Header.Set("Authorization", "Bearer "+req.Token)
		resp, err := client.Do(r)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				elapsed := time.Since(start)
				return ColdSample{Millis: ms(elapsed), RSSMiB: kibToMiB(statusKiB(p.pid(), "VmRSS"))}, nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		select {
		case <-p.done:
			return ColdSample{}, fmt.Errorf("cold start: %s exited:\n%s", name, p.out)
		case <-ctx.Done():
			return ColdSample{}, ctx.Err()
		case <-time.After(coldPoll):
		}
		if time.Now().After(deadline) {
			return ColdSample{}, fmt.Errorf("cold start: %s gave no 200 within 30s; last: %s\n%s", name, last, p.out)
		}
	}
}
