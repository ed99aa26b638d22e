package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/<pid>/stat. The kernel reports them in
// USER_HZ, fixed at 100 on the architectures this runs on whatever the kernel's HZ.
const userHZ = 100

// statFields returns the fields of /proc/<pid>/stat after the command name, which may
// itself contain spaces and parentheses: field 3 (state) is element 0.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return strings.Fields(string(b[i+1:])), nil
}

func field(fs []string, n int) int64 {
	// n is the 1-based field number of proc(5); fs starts at field 3.
	if n-3 >= len(fs) {
		return 0
	}
	v, _ := strconv.ParseInt(fs[n-3], 10, 64)
	return v
}

// cpuTicks is the CPU time a process has used (utime + stime).
func cpuTicks(pid int) int64 {
	fs, err := statFields(pid)
	if err != nil {
		return 0
	}
	return field(fs, 14) + field(fs, 15)
}

// treeTicks is the CPU time of root and its children: those still running, and those
// already reaped (cutime + cstime). PostgreSQL runs a process per connection, so this is
// the server's whole CPU use. A child reaped while the children are being read would be
// missed by both counts, and one exited but not yet reaped shows no times, so the count
// is retried until root's reaped total is the same before and after the scan and no
// child is a zombie: pgbench's backends exit just before the sample after its run.
func treeTicks(root int) int64 {
	if root == 0 {
		return 0
	}
	var total int64
	for range 200 {
		before, err := reapedTicks(root)
		if err != nil {
			return 0
		}
		children, zombies := childTicks(root)
		after, err := reapedTicks(root)
		if err != nil {
			return 0
		}
		total = after + children
		if before == after && !zombies {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return total
}

// reapedTicks is root's own CPU time and that of its reaped children.
func reapedTicks(root int) (int64, error) {
	fs, err := statFields(root)
	if err != nil {
		return 0, err
	}
	return field(fs, 14) + field(fs, 15) + field(fs, 16) + field(fs, 17), nil
}

// childTicks is the CPU time of root's living children.
func childTicks(root int) (total int64, zombies bool) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fs, err := statFields(pid)
		if err != nil || field(fs, 4) != int64(root) {
			continue
		}
		if fs[0] == "Z" {
			zombies = true
		}
		total += field(fs, 14) + field(fs, 15)
	}
	return total, zombies
}

// statusKiB reads a memory line (VmRSS, VmHWM) of /proc/<pid>/status.
func statusKiB(pid int, name string) int64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != name {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		return n
	}
	return 0
}

// resetPeakRSS restarts a process's VmHWM from its current RSS (proc(5), clear_refs
// value 5), so each step reports its own peak rather than the largest so far.
func resetPeakRSS(pid int) {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// usage is a sample of the CPU time used so far by the function and by PostgreSQL.
type usage struct {
	at       time.Time
	function int64
	postgres int64
}

func sampleUsage(fnPID, pgPID int) usage {
	return usage{at: time.Now(), function: cpuTicks(fnPID), postgres: treeTicks(pgPID)}
}

// cores returns the average number of cores each used between u and later.
func (u usage) cores(later usage) (function, postgres float64) {
	wall := later.at.Sub(u.at).Seconds()
	if wall <= 0 {
		return 0, 0
	}
	return float64(later.function-u.function) / userHZ / wall, float64(later.postgres-u.postgres) / userHZ / wall
}

func kibToMiB(k int64) float64 { return float64(k) / 1024 }
