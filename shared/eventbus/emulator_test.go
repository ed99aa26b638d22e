package eventbus_test

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"github.com/stretchr/testify/require"
)

// TestAgainstTheEmulator runs the delivery scenario against the real Pub/Sub emulator
// (gcloud's), so the bus is known to work with more than the in-process fake. It is
// skipped where gcloud or its emulator component is not installed.
func TestAgainstTheEmulator(t *testing.T) {
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		t.Skip("gcloud is not installed")
	}
	port := freePort(t)
	cmd := exec.Command(gcloud, "beta", "emulators", "pubsub", "start",
		"--host-port=127.0.0.1:"+strconv.Itoa(port), "--project=ledgerline-dev")
	// Its own process group: gcloud starts a JVM that must go down with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = cmd.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.Contains(s.Text(), "Server started") {
				ready <- true
			}
			if strings.Contains(s.Text(), "not installed") {
				ready <- false
			}
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Skip("the Pub/Sub emulator component is not installed")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the Pub/Sub emulator did not start within 60 s")
	}
	t.Setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:"+strconv.Itoa(port))
	client, err := pubsub.NewClient(context.Background(), "ledgerline-dev")
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	deliverRetryAndDeadLetter(t, busOver(t, client), client)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
