// Package e2e holds the web UI's end-to-end tests: a real Chromium (Debian's chromium package) driven
// through chromedp against a real Golem server — the UI backend and the built-in engine on one port, with
// a loopback test registry to pull models from. They run with the build tag "browser":
//
//	go test -tags browser -count=1 -v ./internal/webui/e2e/
//
// Screenshots of every step are written to $GOLEM_E2E_ARTIFACTS (default: a new temp dir; the path is
// printed). With GOLEM_TEST_DATABASE_URL set (scripts/postgres.sh starts a server), the flow also runs on
// PostgreSQL with two server instances behind a round-robin proxy.
//
// TestPipelinesFlow connects a real `golem pipelines` process (the binary, built once per run) in the
// admin panel, installs the shipped rate-limit and redaction filters through the Pipelines tab and checks
// their effect in the chat and on what a recording model server receives.
//
// Without the tag only the size budget of the committed front end is checked (size_test.go).
package e2e
