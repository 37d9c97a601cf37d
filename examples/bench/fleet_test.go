package bench

// The fleet measurements of issue 15: followers of a store's change feed.
// They need time, and the PostgreSQL ones a server
// ($IPGATE_POSTGRES_DSN, by default the local test database), so none runs
// under -short.
//
//	go test -run 'TestFleet$' -v               # 4 follower processes, 1M rules, PostgreSQL
//	go test -run 'TestTenants' -v              # 10,000 tenants, memstore and PostgreSQL
//	go test -run '^$' -bench 'FollowChange'    # a follower's CPU per change, 1k to 1M rules

import (
	"bufio"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/follow"
	"github.com/ipgate/ipgate/policy"
	"github.com/ipgate/ipgate/rangeset"
	"github.com/ipgate/ipgate/store"
	"github.com/ipgate/ipgate/store/memstore"
	"github.com/ipgate/ipgate/store/postgres"
)

// childEnv names the measurement a re-executed test binary runs as a
// child process, and its arguments.
const childEnv = "IPGATE_BENCH_CHILD"

func dsn() string {
	if d := os.Getenv("IPGATE_POSTGRES_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/test"
}

// openPostgres opens the store in schema, skipping the test when no server
// answers, and returns it with the function that closes its pool.
func openPostgres(t testing.TB, schema string) (store.Editor, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, closePool, err := postgres.Open(ctx, &postgres.Options{DSN: dsn(), Schema: schema})
	if err != nil {
		t.Skipf("PostgreSQL unreachable: %v", err)
	}
	return st, closePool
}

// procStatus returns a field of /proc/self/status in KiB (VmRSS, VmHWM).
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return -1
}

// atRest collects garbage and returns what the OS can take back, so that
// VmRSS is the memory held.
func atRest() {
	runtime.GC()
	debug.FreeOSMemory()
}

// resetPeak restarts VmHWM at the current RSS (Linux clear_refs).
func resetPeak() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// cpuTime is the process's user and system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// child starts this test binary as a child process running test with
// childEnv set to arg; its stdout lines starting with "bench: " are sent
// on lines, without the prefix. Closing stdin tells it to finish.
type child struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	lines chan string
}

func startChild(t testing.TB, test, arg string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+arg)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: in, lines: make(chan string, 1024)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l, ok := strings.CutPrefix(sc.Text(), "bench: "); ok {
				c.lines <- l
			}
		}
	}()
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return c
}

// next returns the child's next line, failing after d.
func (c *child) next(t testing.TB, d time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			t.Fatal("a child process ended")
		}
		return l
	case <-time.After(d):
		t.Fatalf("no word from a child process in %v", d)
		return ""
	}
}

// finish closes the child's stdin and returns its last line.
func (c *child) finish(t testing.TB) string {
	t.Helper()
	c.stdin.Close()
	var last string
	for l := range c.lines {
		last = l
	}
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("child: %v", err)
	}
	return last
}

// untilStdinEnds returns a context ended when stdin reaches its end: the
// parent is done with the child.
func untilStdinEnds() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		var b [64]byte
		for {
			if _, err := os.Stdin.Read(b[:]); err != nil {
				cancel()
				return
			}
		}
	}()
	return ctx
}

func say(format string, args ...any) { fmt.Printf("bench: "+format+"\n", args...) }

// quantile returns the q quantile of sorted d.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

func summary(d []time.Duration) string {
	d = slices.Clone(d)
	slices.Sort(d)
	return fmt.Sprintf("median %v, p99 %v, min %v, max %v (n=%d)", quantile(d, 0.5), quantile(d, 0.99), d[0], d[len(d)-1], len(d))
}

// fleetProbe is the address of the rule the fleet test edits.
var fleetProbe = netip.MustParseAddr("198.51.100.7")

const (
	fleetSchema = "ipgate_bench_fleet"
	fleetPolicy = "fleet"
)

// TestFleet: a single-rule edit committed in PostgreSQL, with 1M rules
// loaded, and decided by each of 4 follower processes; the latency from
// the commit to the last follower deciding with it, per edit. Each
// follower also reports its RSS at rest and its peak while following the
// edits. IPGATE_FLEET_RULES and IPGATE_FLEET_EDITS change the size and
// the number of edits, IPGATE_FLEET_FOLLOWERS the number of followers;
// with IPGATE_FLEET_CPUPROFILE set to a directory, each follower writes
// the CPU profile of its following there.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("1M rules in PostgreSQL: not in -short mode")
	}
	n, edits, followers := 1_000_000, 200, 4
	if v, err := strconv.Atoi(os.Getenv("IPGATE_FLEET_RULES")); err == nil {
		n = v
	}
	if v, err := strconv.Atoi(os.Getenv("IPGATE_FLEET_FOLLOWERS")); err == nil && v > 0 {
		followers = v
	}
	if v, err := strconv.Atoi(os.Getenv("IPGATE_FLEET_EDITS")); err == nil {
		edits = v
	}
	ctx := t.Context()
	st, closePool := openPostgres(t, fleetSchema)
	defer closePool()

	// The policy: the workload, and the rule the edits toggle.
	probe := policy.Rule{ID: "fleet-probe", Target: rangeset.RangeFrom(fleetProbe, fleetProbe), Action: policy.Deny}
	var rev store.Revision
	if p, r, err := st.Load(ctx, fleetPolicy); err == nil && len(p.Rules) == n+1 {
		rev = r
		t.Logf("reusing the %d rules stored at revision %d", n+1, rev)
	} else {
		p := work(n, Options{}).Policy.Clone()
		p.Rules = append(p.Rules, probe)
		start := time.Now()
		if rev, err = st.Put(ctx, fleetPolicy, p, store.Any); err != nil {
			t.Fatal(err)
		}
		t.Logf("Put of %d rules: %v", n+1, time.Since(start))
	}

	cs := make([]*child, followers)
	start := time.Now()
	for i := range cs {
		cs[i] = startChild(t, "TestFleetChild", "fleet")
	}
	for i, c := range cs {
		var r store.Revision
		var rss int64
		var took time.Duration
		if _, err := fmt.Sscan(c.next(t, 10*time.Minute), &r, &rss, &took); err != nil || r < rev {
			t.Fatalf("follower %d started at revision %d (%v), want %d", i, r, err, rev)
		}
		t.Logf("follower %d: started in %v (its own start %v), RSS %d MiB at rest", i, time.Since(start), took, rss>>10)
	}

	var write, decided, total, each []time.Duration
	for e := range edits {
		probe.Action = policy.Allow
		if e%2 == 1 {
			probe.Action = policy.Deny
		}
		t0 := time.Now()
		_, r, err := st.UpdateRule(ctx, fleetPolicy, probe, store.Any)
		t1 := time.Now()
		if err != nil {
			t.Fatal(err)
		}
		var last int64
		for i, c := range cs {
			for {
				var got store.Revision
				var at int64
				var allowed bool
				if _, err := fmt.Sscan(c.next(t, time.Minute), &got, &at, &allowed); err != nil {
					t.Fatal(err)
				}
				if got < r {
					continue
				}
				if got > r || allowed != (probe.Action == policy.Allow) {
					t.Fatalf("follower %d at revision %d: allowed %v, want revision %d deciding %v", i, got, allowed, r, probe.Action)
				}
				last = max(last, at)
				each = append(each, time.Unix(0, at).Sub(t1))
				break
			}
		}
		write = append(write, t1.Sub(t0))
		decided = append(decided, time.Unix(0, last).Sub(t1))
		total = append(total, time.Unix(0, last).Sub(t0))
	}
	t.Logf("%d rules, %d followers, %d single-rule edits:", n+1, followers, edits)
	t.Logf("  write (UpdateRule to commit): %s", summary(write))
	t.Logf("  commit to decided by every follower: %s", summary(decided))
	t.Logf("  write start to decided by every follower: %s", summary(total))
	t.Logf("  commit to decided by one follower: %s", summary(each))
	for i, c := range cs {
		var rest, peak int64
		var cpu time.Duration
		if _, err := fmt.Sscan(c.finish(t), &rest, &peak, &cpu); err != nil {
			t.Fatal(err)
		}
		t.Logf("follower %d: RSS %d MiB at rest, peak %d MiB during the edits (%.3fx); CPU %v per change", i, rest>>10, peak>>10, float64(peak)/float64(rest), cpu/time.Duration(edits))
	}
}

// TestFleetChild is a follower process of TestFleet. It prints its
// revision, RSS at rest and start time once started, then the revision,
// instant and decision of the probe each time it serves a new revision,
// and at the end its RSS at rest, its peak RSS since the start and the
// CPU time it spent since the start.
func TestFleetChild(t *testing.T) {
	if os.Getenv(childEnv) != "fleet" {
		t.Skip("a child process of TestFleet")
	}
	ctx := untilStdinEnds()
	start := time.Now()
	st, closePool, err := postgres.Open(ctx, &postgres.Options{DSN: dsn(), Schema: fleetSchema})
	if err != nil {
		t.Fatal(err)
	}
	defer closePool()
	f, err := follow.Follow(ctx, st, fleetPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	took := time.Since(start)
	atRest()
	resetPeak()
	say("%d %d %d", f.Status().Revision, procStatus("VmRSS"), took)
	cpu0 := cpuTime()
	stopProfile := func() {}
	if dir := os.Getenv("IPGATE_FLEET_CPUPROFILE"); dir != "" {
		// The profile of following, the start left out.
		out, err := os.CreateTemp(dir, "follower-*.pprof")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		pprof.StartCPUProfile(out)
		stopProfile = pprof.StopCPUProfile
	}
	req := check.Request{Addr: fleetProbe}
	for {
		served := f.Status().Revision
		if f.Wait(ctx, served+1) != nil {
			break
		}
		d := f.Check(req)
		say("%d %d %v", f.Status().Revision, time.Now().UnixNano(), d.Allowed)
	}
	peak, cpu := procStatus("VmHWM"), cpuTime()-cpu0
	stopProfile()
	atRest()
	say("%d %d %d", procStatus("VmRSS"), peak, cpu)
}

// TestTenants: one process follows 10,000 tenants of 10 rules each, all
// started at once with Group.Start, over a memstore and over one
// PostgreSQL store; each in a process of its own, so that its RSS is its
// own. It reports the time from the start to all tenants served, the RSS
// and Go memory before and after, per tenant, and for PostgreSQL the
// connections the process holds.
func TestTenants(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 tenants: not in -short mode")
	}
	const tenants = 10_000
	t.Run("store=memstore", func(t *testing.T) {
		c := startChild(t, "TestTenantsChild", "memstore")
		t.Log(c.finish(t))
	})
	t.Run("store=postgres", func(t *testing.T) {
		st, closePool := openPostgres(t, tenantSchema)
		defer closePool()
		seedTenants(t, st, tenants)
		c := startChild(t, "TestTenantsChild", "postgres")
		t.Log(c.finish(t))
	})
}

const tenantSchema = "ipgate_bench_tenants"

// tenantPolicy is the policy of tenant i: 10 rules.
func tenantPolicy(i int) policy.Policy {
	p := policy.New()
	for j := range 10 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(j * 16)})
		p.Rules = append(p.Rules, policy.Rule{ID: "r" + strconv.Itoa(j), Target: rangeset.PrefixRange(netip.PrefixFrom(a, 28)), Action: policy.Action(1 + j%2)})
	}
	return p
}

func tenantName(i int) string { return "tenant-" + strconv.Itoa(i) }

// seedTenants stores the tenants that st does not hold yet.
func seedTenants(t testing.TB, st store.Editor, n int) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, _, err := st.Load(context.Background(), tenantName(i)); err == nil {
					continue
				}
				if _, err := st.Put(context.Background(), tenantName(i), tenantPolicy(i), store.Any); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	start := time.Now()
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("seeded %d tenants in %v", n, time.Since(start))
}

// TestTenantsChild is the process of one store of TestTenants.
func TestTenantsChild(t *testing.T) {
	kind := os.Getenv(childEnv)
	if kind != "memstore" && kind != "postgres" {
		t.Skip("a child process of TestTenants")
	}
	const tenants = 10_000
	ctx := context.Background()
	var st store.Store
	switch kind {
	case "memstore":
		m := memstore.New(nil)
		seedTenants(t, m, tenants)
		st = m
	case "postgres":
		p, closePool, err := postgres.Open(ctx, &postgres.Options{DSN: withApp(dsn(), tenantApp), Schema: tenantSchema})
		if err != nil {
			t.Fatal(err)
		}
		defer closePool()
		st = p
	}
	names := make([]string, tenants)
	for i := range names {
		names[i] = tenantName(i)
	}
	atRest()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	rssBefore, g0 := procStatus("VmRSS"), runtime.NumGoroutine()

	start := time.Now()
	g := follow.NewGroup(st, &follow.Options{MaxPolicies: tenants})
	defer g.Close()
	if err := g.Start(ctx, names); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	// Every tenant is served: one decision each.
	for i, name := range names {
		f, err := g.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if d := f.Check(check.Request{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})}); d.Rule != "r0" {
			t.Fatalf("%s: %v, want rule r0", name, d)
		}
	}
	atRest()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	rssAfter := procStatus("VmRSS")
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	stack := int64(after.StackInuse) - int64(before.StackInuse)
	say("%s: %d tenants of 10 rules served %v after the start; RSS %d -> %d MiB (%.1f KiB per tenant); Go heap +%.1f KiB and stacks +%.1f KiB per tenant; %d goroutines more%s",
		kind, tenants, took.Round(time.Millisecond), rssBefore>>10, rssAfter>>10, float64(rssAfter-rssBefore)/tenants,
		float64(heap)/1024/tenants, float64(stack)/1024/tenants, runtime.NumGoroutine()-g0, connections(kind))
}

// connections reports the connections to the server that the postgres
// child holds, as the server counts them: the child's DSN names it.
func connections(kind string) string {
	if kind != "postgres" {
		return ""
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn())
	if err != nil {
		return fmt.Sprintf("; connections not counted: %v", err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from pg_stat_activity where application_name = $1", tenantApp).Scan(&n); err != nil {
		return fmt.Sprintf("; connections not counted: %v", err)
	}
	return fmt.Sprintf("; %d connections to PostgreSQL", n)
}

// tenantApp is the application_name of the postgres child's connections.
const tenantApp = "ipgate-bench-tenants"

// withApp returns the DSN with the application_name set.
func withApp(dsn, app string) string {
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "application_name=" + app
	}
	return dsn + " application_name=" + app
}
