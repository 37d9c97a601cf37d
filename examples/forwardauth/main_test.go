package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ipgate/ipgate/check"
	"github.com/ipgate/ipgate/check/httpgate"
	"github.com/ipgate/ipgate/examples/internal/trustflag"
	"github.com/ipgate/ipgate/policy"
)

const doc = `{"rules": [
  {"id": "office", "ip": "203.0.113.0/24", "action": "allow"},
  {"id": "kiosk\n", "ip": "203.0.113.66", "action": "deny"},
  {"id": "v6", "ip": "2001:db8::/32", "action": "allow"}
]}`

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestHandler(t *testing.T) {
	t.Parallel()
	p, err := policy.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s, err := check.Compile(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	loopback := httpgate.Loopback()
	tests := []struct {
		name    string
		cfg     config
		peer    string
		headers map[string][]string
		status  int
		want    map[string]string // response headers; "" means absent
	}{
		{"peer decides without trust", config{}, "203.0.113.7:1234", nil, 200,
			map[string]string{hDecision: "allow", hReason: "rule", hRule: `"office"`, hClient: "203.0.113.7"}},
		{"untrusted peer's header ignored", config{}, "198.51.100.1:1234", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, 403,
			map[string]string{hDecision: "deny", hReason: "default", hRule: "", hClient: "198.51.100.1"}},
		{"trusted proxy names the client", config{trust: loopback}, "127.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"203.0.113.7"}}, 200,
			map[string]string{hDecision: "allow", hRule: `"office"`, hClient: "203.0.113.7"}},
		{"spoofed left-most skipped", config{trust: loopback}, "127.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"203.0.113.7, 198.51.100.1"}}, 403,
			map[string]string{hDecision: "deny", hClient: "198.51.100.1"}},
		{"rule id quoted", config{trust: loopback}, "127.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"203.0.113.66"}}, 403,
			map[string]string{hDecision: "deny", hReason: "rule", hRule: `"kiosk\n"`}},
		{"IPv6 client", config{trust: loopback}, "[::1]:1234", map[string][]string{"X-Forwarded-For": {"[2001:db8::5]:443"}}, 200,
			map[string]string{hDecision: "allow", hRule: `"v6"`, hClient: "2001:db8::5"}},
		{"mapped client decided as IPv4", config{trust: loopback}, "127.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"::ffff:203.0.113.9"}}, 200,
			map[string]string{hDecision: "allow", hClient: "203.0.113.9"}},
		{"proxy sent no header", config{trust: loopback}, "127.0.0.1:1234", nil, 403,
			map[string]string{hDecision: "deny", hReason: "invalid", hClient: ""}},
		{"garbage header", config{trust: loopback}, "127.0.0.1:1234", map[string][]string{"X-Forwarded-For": {"203.0.113.7, bogus"}}, 403,
			map[string]string{hDecision: "deny", hReason: "invalid", hClient: ""}},
		{"X-Real-IP", config{trust: loopback, header: "X-Real-IP"}, "127.0.0.1:1234", map[string][]string{"X-Real-IP": {"203.0.113.8"}, "X-Forwarded-For": {"198.51.100.1"}}, 200,
			map[string]string{hDecision: "allow", hClient: "203.0.113.8"}},
		{"X-Real-IP twice", config{trust: loopback, header: "X-Real-IP"}, "127.0.0.1:1234", map[string][]string{"X-Real-IP": {"203.0.113.8", "203.0.113.9"}}, 403,
			map[string]string{hDecision: "deny", hReason: "invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h, err := handler(s.Check, tt.cfg, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("GET", "/auth", nil)
			r.RemoteAddr = tt.peer
			for k, vs := range tt.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d", w.Code, tt.status)
			}
			for k, want := range tt.want {
				if got := w.Header().Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if tt.want[hReason] == "invalid" && !strings.Contains(logs.String(), "no client address") {
				t.Errorf("no log line for the unreadable address: %q", logs.String())
			}
		})
	}
}

// TestSubjectHeaders checks that the admin and mobile headers count only
// from a trusted proxy, and that a value that says neither yes nor no is
// denied.
func TestSubjectHeaders(t *testing.T) {
	t.Parallel()
	p, err := policy.Decode([]byte(`{"applyToMobile": false, "defaultAction": "deny", "rules": [
		{"id": "admins", "ip": "198.51.100.0/24", "action": "allow", "adminOnly": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := check.Compile(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	trust, err := trustflag.Parse("127.0.0.1, link-local, ::ffff:127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{trust: trust, adminHeader: "X-Admin", mobileHeader: "X-Mobile"}
	for _, tc := range []struct {
		name, peer string
		headers    map[string][]string
		status     int
		reason     string
	}{
		{"admin from the proxy", "127.0.0.1:1", map[string][]string{"X-Admin": {"1"}}, 200, "rule"},
		{"admin true", "127.0.0.1:1", map[string][]string{"X-Admin": {" True "}}, 200, "rule"},
		{"no admin header", "127.0.0.1:1", nil, 403, "default"},
		{"admin 0", "127.0.0.1:1", map[string][]string{"X-Admin": {"0"}}, 403, "default"},
		{"mobile from the proxy", "127.0.0.1:1", map[string][]string{"X-Mobile": {"true"}}, 200, "exempt"},
		{"admin from an untrusted peer", "198.51.100.7:1", map[string][]string{"X-Admin": {"1"}}, 403, "default"},
		{"mobile from an untrusted peer", "198.51.100.7:1", map[string][]string{"X-Mobile": {"1"}}, 403, "default"},
		{"unreadable admin", "127.0.0.1:1", map[string][]string{"X-Admin": {"yes"}}, 403, "invalid"},
		{"two mobile values", "127.0.0.1:1", map[string][]string{"X-Mobile": {"1", "1"}}, 403, "invalid"},
		// The gate trusts a zoned peer and a mapped -trust prefix, and so
		// do the subject headers.
		{"admin from a zoned trusted peer", "[fe80::1%eth0]:1", map[string][]string{"X-Admin": {"1"}}, 200, "rule"},
		{"admin from a trusted peer given mapped", "127.0.0.2:1", map[string][]string{"X-Admin": {"1"}}, 200, "rule"},
	} {
		var logs bytes.Buffer
		h, err := handler(s.Check, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("GET", "/auth", nil)
		r.RemoteAddr = tc.peer
		r.Header.Set("X-Forwarded-For", "198.51.100.7")
		for k, vs := range tc.headers {
			for _, v := range vs {
				r.Header.Add(k, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.status || w.Header().Get(hReason) != tc.reason {
			t.Errorf("%s: %d %s, want %d %s (log %q)", tc.name, w.Code, w.Header().Get(hReason), tc.status, tc.reason, logs.String())
		}
		if tc.reason == "invalid" && !strings.Contains(logs.String(), "unreadable subject") {
			t.Errorf("%s: no log line for the unreadable header: %q", tc.name, logs.String())
		}
	}
}

func TestFlags(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "forwardauth: -dir is required\n"},
		{[]string{"-dir", "x", "-trust", "loopback,10.0.0.0/33"}, "forwardauth: -trust: \"10.0.0.0/33\" is not a prefix, an address or one of private, loopback, link-local\n"},
		{[]string{"-dir", "x", "extra"}, "forwardauth: unexpected argument \"extra\"\n"},
	} {
		var stderr bytes.Buffer
		if code := run(t.Context(), tt.args, &stderr); code != 2 || stderr.String() != tt.want {
			t.Errorf("run(%q) = %d, %q; want 2, %q", tt.args, code, stderr.String(), tt.want)
		}
	}
	cfg, err := parseFlags([]string{"-dir", "d", "-policy", "web", "-trust", "private, 192.0.2.1", "-header", "X-Real-IP"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.dir != "d" || cfg.policy != "web" || cfg.header != "X-Real-IP" || len(cfg.trust) != 5 || cfg.trust[4] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Errorf("parseFlags = %+v", cfg)
	}
	// A store directory without the policy is an error, and so is a bad header name.
	var stderr bytes.Buffer
	if code := run(t.Context(), []string{"-dir", t.TempDir(), "-policy", "none"}, &stderr); code != 1 {
		t.Errorf("run without a policy = %d, %q", code, stderr.String())
	}
}

// newStore writes doc as the policy "web" of a new store directory.
func newStore(t *testing.T, doc string) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web.json"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// ask sends one request to h from the loopback proxy on behalf of client.
func ask(h http.Handler, client string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:5555"
	r.Header.Set("X-Forwarded-For", client)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestFollowsStore(t *testing.T) {
	t.Parallel()
	dir := newStore(t, doc)
	h, closeFn, err := newServer(t.Context(), config{dir: dir, policy: "web", trust: httpgate.Loopback()}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if w := ask(h, "203.0.113.7"); w.Code != 200 {
		t.Fatalf("before the change: %d", w.Code)
	}
	// An outside edit of the document is served once the store sees it.
	if err := os.WriteFile(filepath.Join(dir, "web.json"), []byte(`{"rules": [{"id": "closed", "ip": "0.0.0.0/0", "action": "deny"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		w := ask(h, "203.0.113.7")
		if w.Code == 403 && w.Header().Get(hRule) == `"closed"` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the change: %d %q", w.Code, w.Header().Get(hRule))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

const nginxConf = `worker_processes 1;
pid {{DIR}}/nginx.pid;
error_log {{DIR}}/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path {{DIR}}/body;
    proxy_temp_path {{DIR}}/proxy;
    fastcgi_temp_path {{DIR}}/fastcgi;
    uwsgi_temp_path {{DIR}}/uwsgi;
    scgi_temp_path {{DIR}}/scgi;
    server {
        listen 127.0.0.1:{{PORT}};
        # The test client plays a load balancer on 127.0.0.1: nginx
        # believes its X-Forwarded-For.
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;
        location / {
            auth_request /ipgate;
            auth_request_set $ipgate_rule $upstream_http_x_ipgate_rule;
            add_header X-Ipgate-Rule $ipgate_rule always;
            proxy_pass http://127.0.0.1:{{APP}};
        }
        location = /ipgate {
            internal;
            proxy_pass http://127.0.0.1:{{AUTH}};
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Mobile "";
        }
    }
}
`

// TestNginx runs a real nginx in front of the forward-auth handler: the
// address nginx finds for the client (here from X-Forwarded-For, which the
// test sends as a load balancer would) decides whether the protected
// location answers.
func TestNginx(t *testing.T) {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx" // Debian's, off a user's PATH
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("nginx is not installed; .ci/run installs Debian's package nginx")
			}
			t.Skip("nginx is not installed (apt-get install nginx); CI runs this test")
		}
	}
	t.Parallel()
	// Mobile clients are exempt, and the proxy clears what a client
	// says of itself.
	storeDir := newStore(t, strings.Replace(doc, `{"rules"`, `{"applyToMobile": false, "rules"`, 1))
	h, closeFn, err := newServer(t.Context(), config{dir: storeDir, policy: "web", trust: httpgate.Loopback(), mobileHeader: "X-Mobile"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	auth := httptest.NewServer(h)
	defer auth.Close()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "protected")
	}))
	defer app.Close()

	dir := t.TempDir()
	port := freePort(t)
	conf := strings.NewReplacer("{{DIR}}", dir, "{{PORT}}", fmt.Sprint(port),
		"{{AUTH}}", portOf(t, auth.URL), "{{APP}}", portOf(t, app.URL)).Replace(nginxConf)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGQUIT) // graceful: workers finish, then the master exits
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s%s", err, out.String(), errLog)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %d: %s", port, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	tests := []struct {
		xff    string
		status int
		rule   string
		mobile bool // the client claims to be mobile
	}{
		{"203.0.113.7", 200, `"office"`, false},
		{"198.51.100.1", 403, "", false},
		{"198.51.100.1", 403, "", true},
		{"203.0.113.66", 403, `"kiosk\n"`, false},
		{"2001:db8::7", 200, `"v6"`, false},
		// nginx takes the last address (real_ip_recursive off), as the
		// balancer appended it: what a client wrote before it is ignored.
		{"203.0.113.7, 198.51.100.1", 403, "", false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequestWithContext(context.Background(), "GET", base+"/page", nil)
		req.Header.Set("X-Forwarded-For", tt.xff)
		if tt.mobile {
			req.Header.Set("X-Mobile", "1")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("X-Forwarded-For %q (mobile %v): status %d, want %d (%q)", tt.xff, tt.mobile, resp.StatusCode, tt.status, body)
		}
		if tt.status == 200 && string(body) != "protected\n" {
			t.Errorf("X-Forwarded-For %q: body %q", tt.xff, body)
		}
		if got := resp.Header.Get(hRule); got != tt.rule {
			t.Errorf("X-Forwarded-For %q: %s %q, want %q", tt.xff, hRule, got, tt.rule)
		}
	}
	if t.Failed() {
		errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		t.Logf("nginx error log:\n%s", errLog)
	}
}

func portOf(t *testing.T, url string) string {
	ap, err := netip.ParseAddrPort(strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(ap.Port())
}

// syncBuffer is a buffer that the server's logger and the test share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestRun runs the whole program: it listens, answers, and shuts down
// when its context ends.
func TestRun(t *testing.T) {
	t.Parallel()
	dir := newStore(t, doc)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"-dir", dir, "-policy", "web", "-listen", "127.0.0.1:0", "-trust", "loopback"}, &logs)
	}()
	addr := ""
	for deadline := time.Now().Add(10 * time.Second); addr == ""; {
		if _, rest, ok := strings.Cut(logs.String(), " addr="); ok {
			addr, _, _ = strings.Cut(rest, " ")
			break
		}
		select {
		case code := <-exit:
			t.Fatalf("run exited with %d: %s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not listening: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for xff, want := range map[string]int{"203.0.113.7": 200, "198.51.100.1": 403} {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("X-Forwarded-For %s: %d, want %d", xff, resp.StatusCode, want)
		}
	}
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("run = %d after the context ended: %s", code, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the context ended")
	}
}
