package testenv_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/portcullis-gw/portcullis/internal/testenv"
)

// TestFreePortConcurrent claims ports from many goroutines at once: every
// port is a different one, and each lies outside the kernel's ephemeral
// range.
func TestFreePortConcurrent(t *testing.T) {
	low, high := ephemeralRange(t)
	const n = 40
	ports := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { ports[i] = testenv.FreePort(t) })
	}
	wg.Wait()
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d handed out twice in %v", p, ports)
		}
		seen[p] = true
		if p >= low && p <= high {
			t.Errorf("port %d is in the ephemeral range %d–%d", p, low, high)
		}
	}
}

// childPortsEnv makes the test binary, run again by
// TestFreePortAcrossProcesses, claim that many ports and print them.
const childPortsEnv = "PORTCULLIS_TEST_FREEPORT_CHILD"

// TestFreePortAcrossProcesses claims ports in this process and, while this
// test holds them, in a second process running this test binary: the
// second gets none of the first's, though the first's are not bound and
// the scan of both starts at the same port.
func TestFreePortAcrossProcesses(t *testing.T) {
	if n := os.Getenv(childPortsEnv); n != "" {
		count, err := strconv.Atoi(n)
		if err != nil {
			t.Fatal(err)
		}
		var ports []string
		for range count {
			ports = append(ports, strconv.Itoa(testenv.FreePort(t)))
		}
		fmt.Printf("ports: %s\n", strings.Join(ports, " "))
		return
	}
	const n = 10
	mine := map[int]bool{}
	for range n {
		mine[testenv.FreePort(t)] = true
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestFreePortAcrossProcesses$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", childPortsEnv, n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the second process: %v\n%s", err, out)
	}
	var theirs []int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "ports: "); ok {
			for _, f := range strings.Fields(rest) {
				p, err := strconv.Atoi(f)
				if err != nil {
					t.Fatal(err)
				}
				theirs = append(theirs, p)
			}
		}
	}
	if len(theirs) != n {
		t.Fatalf("the second process handed out %v, want %d ports:\n%s", theirs, n, out)
	}
	for _, p := range theirs {
		if mine[p] {
			t.Errorf("port %d handed out to both processes", p)
		}
	}
}

// ephemeralRange reads the kernel's range of ports for outgoing
// connections.
func ephemeralRange(t *testing.T) (low, high int) {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		t.Skipf("no Linux ephemeral port range: %v", err)
	}
	if _, err := fmt.Sscan(string(data), &low, &high); err != nil {
		t.Fatalf("ip_local_port_range %q: %v", data, err)
	}
	return low, high
}
