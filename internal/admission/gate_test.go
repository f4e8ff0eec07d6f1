//go:build linux

package admission

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// gate is a gate over a fresh directory that ignores the host's memory.
func gate(t *testing.T, dir string, b Budget) *Gate {
	t.Helper()
	g, err := New(dir, b)
	if err != nil {
		t.Fatal(err)
	}
	g.hostAvail = func() (int64, int64) { return -1, 0 }
	return g
}

func acquire(t *testing.T, g *Gate, mem int64) *Slot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := g.Acquire(ctx, Request{Name: t.Name(), MemoryMiB: mem}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// files lists the directory's ticket and slot files.
func files(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if de.Name() != "lock" {
			out = append(out, de.Name())
		}
	}
	return out
}

// TestBootSlotsBoundBootsInFIFOOrder: with one boot slot, concurrent
// requests boot one at a time, in the order they queued.
func TestBootSlotsBoundBootsInFIFOOrder(t *testing.T) {
	dir := t.TempDir()
	g := gate(t, dir, Budget{BootSlots: 1, MemoryMiB: 10000})
	first := acquire(t, g, 100)
	var (
		mu      sync.Mutex
		order   []int
		booting int
		maxBoot int
		wg      sync.WaitGroup
	)
	queued := make(chan struct{})
	for i := range 4 {
		wg.Go(func() {
			s, err := g.Acquire(context.Background(), Request{MemoryMiB: 100}, func(Status) { queued <- struct{}{} })
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, i)
			booting++
			maxBoot = max(maxBoot, booting)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			booting--
			mu.Unlock()
			s.Booted()
			s.Release()
		})
		<-queued // queue them in a known order
	}
	first.Booted()
	wg.Wait()
	first.Release()
	if maxBoot != 1 || fmt.Sprint(order) != "[0 1 2 3]" {
		t.Fatalf("order %v, at most %d booting at once; want [0 1 2 3] and 1", order, maxBoot)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestMemoryBudgetAndNoStarvation: a request waits until the memory it
// needs is free, and a large request at the head is not overtaken by
// smaller ones that would fit.
func TestMemoryBudgetAndNoStarvation(t *testing.T) {
	dir := t.TempDir()
	g := gate(t, dir, Budget{BootSlots: 8, MemoryMiB: 1000})
	a := acquire(t, g, 500)
	a.Booted()
	var first Status
	var once sync.Once
	bigDone := make(chan *Slot)
	bigWaiting := make(chan struct{})
	go func() {
		s, err := g.Acquire(context.Background(), Request{MemoryMiB: 800}, func(st Status) {
			once.Do(func() { first = st; close(bigWaiting) })
		})
		if err != nil {
			t.Error(err)
		}
		bigDone <- s
	}()
	<-bigWaiting
	smallDone := make(chan *Slot)
	smallWaiting := make(chan Status, 1)
	go func() {
		s, err := g.Acquire(context.Background(), Request{MemoryMiB: 100}, func(st Status) {
			select {
			case smallWaiting <- st:
			default:
			}
		})
		if err != nil {
			t.Error(err)
		}
		smallDone <- s
	}()
	st := <-smallWaiting // 100 MiB would fit, but the big one is first
	if st.Ahead != 1 || st.Reason != WaitQueue || st.MemoryInUseMiB != 500 {
		t.Fatalf("small request's status %+v", st)
	}
	if first.Reason != WaitMemory || first.Ahead != 0 {
		t.Fatalf("big request's status %+v", first)
	}
	a.Release()
	big := <-bigDone
	small := <-smallDone
	if big == nil || small == nil {
		t.Fatal("not admitted")
	}
	big.Release()
	small.Release()
}

// TestTooLargeIsRefusedAtOnce: a request over the whole budget fails
// without waiting, with the numbers.
func TestTooLargeIsRefusedAtOnce(t *testing.T) {
	dir := t.TempDir()
	g := gate(t, dir, Budget{BootSlots: 1, MemoryMiB: 2048})
	start := time.Now()
	_, err := g.Acquire(context.Background(), Request{MemoryMiB: Charge(4096)}, nil)
	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) || time.Since(start) > time.Second {
		t.Fatalf("got %v after %v", err, time.Since(start))
	}
	if msg := err.Error(); !strings.Contains(msg, "4.1 GiB") || !strings.Contains(msg, "2.0 GiB") {
		t.Fatalf("message without the numbers: %s", msg)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestCancelledWaitLeavesNothing: a waiter whose context ends removes its
// ticket; the holder's release then leaves the directory empty.
func TestCancelledWaitLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	g := gate(t, dir, Budget{BootSlots: 1, MemoryMiB: 1000})
	s := acquire(t, g, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	waited := false
	_, err := g.Acquire(ctx, Request{MemoryMiB: 100}, func(Status) { waited = true })
	if !errors.Is(err, context.DeadlineExceeded) || !waited {
		t.Fatalf("got %v (waited %v)", err, waited)
	}
	s.Release()
	s.Release()
	if left := files(t, dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestKilledHolderFreesItsSlot: a process holding the only boot slot is
// killed with SIGKILL; a waiter in this process is admitted soon after,
// and the dead process's files are gone.
func TestKilledHolderFreesItsSlot(t *testing.T) {
	dir := t.TempDir()
	holder := startHolder(t, dir)
	g := gate(t, dir, Budget{BootSlots: 1, MemoryMiB: 1000})
	got := make(chan error, 1)
	waiting := make(chan struct{})
	var once sync.Once
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s, err := g.Acquire(ctx, Request{MemoryMiB: 100}, func(st Status) {
			if st.Reason == WaitBoot {
				once.Do(func() { close(waiting) })
			}
		})
		if err == nil {
			s.Release()
		}
		got <- err
	}()
	select {
	case <-waiting:
	case err := <-got:
		t.Fatalf("admitted while the holder lives: %v", err)
	}
	killed := time.Now()
	holder.Process.Kill()
	holder.Wait()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(killed); d > 3*time.Second {
		t.Fatalf("admitted %v after the holder died", d)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestProcessesShareTheQueue: three processes contend for one boot slot;
// all are admitted, and never two at once.
func TestProcessesShareTheQueue(t *testing.T) {
	dir := t.TempDir()
	log := dir + ".log"
	var cmds []*exec.Cmd
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "ADMISSION_HELPER=boot", "ADMISSION_DIR="+dir, "ADMISSION_LOG="+log)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("helper: %v", err)
		}
	}
	b, _ := os.ReadFile(log)
	lines := strings.Fields(string(b))
	depth := 0
	for _, l := range lines {
		switch l {
		case "start":
			depth++
		case "end":
			depth--
		}
		if depth > 1 {
			t.Fatalf("two boots at once: %v", lines)
		}
	}
	if len(lines) != 6 {
		t.Fatalf("log %v, want 3 start/end pairs", lines)
	}
	if left := files(t, dir); len(left) != 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// startHolder starts a helper process that takes the only boot slot of dir
// and holds it until killed.
func startHolder(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "ADMISSION_HELPER=hold", "ADMISSION_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("helper said %q: %v", line, err)
	}
	return cmd
}

// TestHelperProcess is the other process of the tests above.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv("ADMISSION_HELPER")
	if mode == "" {
		return // not a helper: nothing to do
	}
	g, err := New(os.Getenv("ADMISSION_DIR"), Budget{BootSlots: 1, MemoryMiB: 1000})
	if err != nil {
		t.Fatal(err)
	}
	g.hostAvail = func() (int64, int64) { return -1, 0 }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := g.Acquire(ctx, Request{Name: "helper", MemoryMiB: 100}, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch mode {
	case "hold":
		fmt.Println("held")
		syscall.Pause()
	case "boot":
		appendLine(t, os.Getenv("ADMISSION_LOG"), "start")
		time.Sleep(200 * time.Millisecond)
		appendLine(t, os.Getenv("ADMISSION_LOG"), "end")
		s.Booted()
		s.Release()
	}
}

func appendLine(t *testing.T, path, s string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintln(f, s)
}

func TestResolve(t *testing.T) {
	h := HostInfo{Cores: 2, MemTotalMiB: 24576}
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	b, err := Resolve(Options{}, h, getenv)
	if err != nil || b != (Budget{BootSlots: 2, MemoryMiB: 18432}) {
		t.Fatalf("defaults: %+v %v", b, err)
	}
	if b, _ := Resolve(Options{KVM: true}, h, getenv); b.BootSlots != 8 {
		t.Fatalf("kvm: %+v", b)
	}
	env[BootSlotsEnv], env[MemoryBudgetEnv] = "3", "8G"
	if b, err := Resolve(Options{}, h, getenv); err != nil || b != (Budget{BootSlots: 3, MemoryMiB: 8192}) {
		t.Fatalf("env: %+v %v", b, err)
	}
	if b, err := Resolve(Options{BootSlots: 1, MemoryMiB: 512}, h, getenv); err != nil || b != (Budget{BootSlots: 1, MemoryMiB: 512}) {
		t.Fatalf("options over env: %+v %v", b, err)
	}
	env[BootSlotsEnv], env[MemoryBudgetEnv] = "zero", "100T"
	_, err = Resolve(Options{}, h, getenv)
	if err == nil || !strings.Contains(err.Error(), BootSlotsEnv) || !strings.Contains(err.Error(), "more than this host's RAM") {
		t.Fatalf("bad env: %v", err)
	}
}
