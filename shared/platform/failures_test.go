package platform

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ledgerline/ledgerline/shared/manifest"
)

type failure struct {
	function, subscription, messageID string
	attempt                           int
	data                              []byte
	cause                             error
	deadline                          bool
}

type fakeRecorder struct {
	got []failure
	err error
}

func (f *fakeRecorder) RecordFailure(ctx context.Context, function, subscription, messageID string, attempt int, data []byte, cause error) error {
	_, deadline := ctx.Deadline()
	f.got = append(f.got, failure{function, subscription, messageID, attempt, data, cause, deadline})
	return f.err
}

func TestWrapEventRecordsFailures(t *testing.T) {
	fn := manifest.Function{Name: "Proc", Kind: manifest.CloudEvent, Topic: "t"}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	boom := errors.New("boom")
	verdicts := []error{nil, boom}
	handler := func(context.Context, Message) error {
		v := verdicts[0]
		verdicts = verdicts[1:]
		return v
	}
	rec := &fakeRecorder{}
	h := WrapEvent(fn, handler, &Deps{Logger: logger, Failures: rec})
	msg := Message{ID: "m-1", Data: []byte("x"), Subscription: "projects/p/subscriptions/Proc", DeliveryAttempt: 3}
	e, err := PubSubEvent("p", "t", msg)
	require.NoError(t, err)

	require.NoError(t, h(context.Background(), e))
	require.Empty(t, rec.got, "an acknowledged message is not a failure")
	require.ErrorIs(t, h(context.Background(), e), boom)
	require.Equal(t, []failure{{"Proc", msg.Subscription, "m-1", 3, []byte("x"), boom, true}}, rec.got)

	t.Run("a failing recorder does not change the verdict", func(t *testing.T) {
		rec := &fakeRecorder{err: errors.New("database down")}
		h := WrapEvent(fn, func(context.Context, Message) error { panic("bad") }, &Deps{Logger: logger, Failures: rec})
		require.ErrorContains(t, h(context.Background(), e), "panic: bad")
		require.Len(t, rec.got, 1)
	})

	t.Run("without a recorder nothing is recorded", func(t *testing.T) {
		h := WrapEvent(fn, func(context.Context, Message) error { return boom }, &Deps{Logger: logger})
		require.ErrorIs(t, h(context.Background(), e), boom)
	})
}
