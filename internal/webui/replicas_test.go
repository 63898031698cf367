package webui

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golem-llm/golem/internal/db/dbtest"
)

// TestMain doubles as a UI replica process for the multi-process tests: with GOLEM_WEBUI_REPLICA=1 the
// test binary serves a Handler configured from its environment, prints its URL and runs until its
// standard input closes.
func TestMain(m *testing.M) {
	if os.Getenv("GOLEM_WEBUI_REPLICA") == "1" {
		os.Exit(runReplica())
	}
	os.Exit(m.Run())
}

func runReplica() int {
	h, err := New(Config{})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	defer h.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	go http.Serve(ln, h)
	fmt.Println("URL http://" + ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// replica is a UI replica in its own process.
type replica struct {
	url   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func (r *replica) stop() {
	r.stdin.Close()
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
}

func startReplica(t *testing.T, env ...string) *replica {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"GOLEM_WEBUI_REPLICA=1"}, env...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
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
	r := &replica{cmd: cmd, stdin: stdin}
	t.Cleanup(r.stop)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "URL ") {
		t.Fatalf("replica did not start: %q %v", line, err)
	}
	r.url = strings.TrimSpace(strings.TrimPrefix(line, "URL "))
	return r
}

// Two UI processes on one database, started together (their migrations race), serving alternate
// requests of one user; then both restart and the session and history are still there.
func TestTwoReplicaProcesses(t *testing.T) {
	engine := newFakeOllama("stories260K:latest")
	remote := httptest.NewServer(engine)
	defer remote.Close()
	dbtest.Each(t, func(t *testing.T, dbURL, dir string) {
		env := []string{"DATABASE_URL=" + dbURL, "GOLEM_HOME=" + dir, "OLLAMA_BASE_URL=" + remote.URL,
			"OLLAMA_BASE_URLS=", "WEBUI_SECRET_KEY=", "ENABLE_SIGNUP=", "DEFAULT_USER_ROLE=", "OPENAI_API_BASE_URL=",
			"OPENAI_API_BASE_URLS=", "OPENAI_API_KEY=", "OPENAI_API_KEYS=", "GOLEM_TRUSTED_EMAIL_HEADER=",
			"WEBUI_AUTH_TRUSTED_EMAIL_HEADER="}
		var reps [2]*replica
		var wg sync.WaitGroup
		for i := range reps {
			wg.Add(1)
			go func() { defer wg.Done(); reps[i] = startReplica(t, env...) }()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		a, b := newClient(t, reps[0].url), newClient(t, reps[1].url)

		tok, _ := signup(t, a, "ada@example.com") // on A
		A, B := a.as(tok), b.as(tok)
		if me := B.must(200, "GET", "/api/v1/auths/", nil); me["role"] != "admin" { // session valid on B
			t.Fatalf("B sees %v", me)
		}
		btok, bob := signup(t, b, "bob@example.com") // second account on B: pending, per the shared settings
		if bob["role"] != "pending" {
			t.Fatalf("second account on B: %v", bob)
		}
		A.must(200, "POST", "/api/v1/users/"+bob["id"].(string)+"/role", map[string]string{"role": "user"})
		b.as(btok).must(200, "GET", "/api/v1/chats", nil) // approval on A seen on B

		// A connection added on B is used by A.
		second := httptest.NewServer(newFakeOllama("qwen:0.5b"))
		defer second.Close()
		B.must(201, "POST", "/api/v1/connections", map[string]string{"type": "ollama", "url": second.URL})
		if n := len(A.must(200, "GET", "/api/v1/models", nil)["data"].([]any)); n != 2 {
			t.Fatalf("A lists %d models, want both connections' 2", n)
		}

		// One conversation, alternating replicas turn by turn.
		id := B.must(201, "POST", "/api/v1/chats", nil)["id"].(string)
		var parent any
		for i, c := range []*client{A, B, A, B} {
			evs := c.complete(id, map[string]any{"parent_id": parent, "content": fmt.Sprintf("turn %d", i),
				"model": "stories260K:latest"})
			if evs[len(evs)-1].name != "done" && evs[len(evs)-1].name != "title" {
				t.Fatalf("turn %d: %s", i, eventNames(evs))
			}
			parent = msgOf(evs[0], "assistant_message")["id"]
		}
		ch, by := chatState(t, A, id)
		if len(by) != 8 || ch["current_id"] != parent || ch["title"] != "Sky Colour Talk" {
			t.Fatalf("chat on A after alternating turns: %v, %d messages", ch, len(by))
		}
		last := engine.seen()[len(engine.seen())-1]
		if !strings.Contains(turnsText(last.Messages), "user:turn 0 | assistant:You said: turn 0 | user:turn 1") {
			t.Fatalf("last turn's context %q: history written on the other replica is missing", turnsText(last.Messages))
		}
		A.must(200, "PATCH", "/api/v1/chats/"+id, map[string]any{"title": "renamed on A"})
		if list := B.must(200, "GET", "/api/v1/chats?q=renamed", nil)["chats"].([]any); len(list) != 1 {
			t.Fatalf("search on B after a rename on A: %v", list)
		}
		// Sign-out on B ends the session on A.
		s2 := a.must(200, "POST", "/api/v1/auths/signin", map[string]string{"email": "ada@example.com", "password": "password1"})
		b.as(s2["token"].(string)).must(200, "POST", "/api/v1/auths/signout", nil)
		if r := a.as(s2["token"].(string)).do("GET", "/api/v1/auths/", nil); r.status != 401 {
			t.Fatalf("session signed out on B still valid on A: %d", r.status)
		}

		// Restart both: no one is logged out, nothing is lost.
		reps[0].stop()
		reps[1].stop()
		r3 := startReplica(t, env...)
		C := newClient(t, r3.url).as(tok)
		if me := C.must(200, "GET", "/api/v1/auths/", nil); me["email"] != "ada@example.com" {
			t.Fatalf("after restart: %v", me)
		}
		ch2, by2 := chatState(t, C, id)
		if len(by2) != 8 || ch2["title"] != "renamed on A" || ch2["current_id"] != parent {
			t.Fatalf("history after restart: %v (%d messages)", ch2, len(by2))
		}
		if len(C.must(200, "GET", "/api/v1/connections", nil)["connections"].([]any)) != 2 {
			t.Fatal("stored connection lost in the restart")
		}
	})
}
