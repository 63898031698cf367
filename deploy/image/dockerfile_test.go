package main

import (
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestDockerfileMatchesBuilder: the Dockerfile (for users with Docker; CI has no Docker
// engine) must give the image the same user, environment, entrypoint, volume and ports
// as the Go builder.
func TestDockerfileMatchesBuilder(t *testing.T) {
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, then keep the final stage (after the last FROM).
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(src), " ")
	lines := strings.Split(text, "\n")
	last := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			last = i
		}
	}
	if !strings.HasPrefix(lines[last], "FROM scratch") {
		t.Errorf("final stage %q, want FROM scratch", lines[last])
	}
	got := map[string]string{}
	var env []string
	for _, l := range lines[last+1:] {
		word, rest, _ := strings.Cut(strings.TrimSpace(l), " ")
		switch word {
		case "ENV":
			env = append(env, regexp.MustCompile(`\s+`).Split(strings.TrimSpace(rest), -1)...)
		case "USER", "ENTRYPOINT", "CMD", "VOLUME", "EXPOSE", "WORKDIR", "STOPSIGNAL":
			got[word] = strings.TrimSpace(rest)
		}
	}
	o := testOptions(t)
	_, images, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := images[0].ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	jsonArray := func(s []string) string { b, _ := json.Marshal(s); return strings.ReplaceAll(string(b), ",", ", ") }
	var ports, vols []string
	for p := range c.ExposedPorts {
		ports = append(ports, strings.TrimSuffix(p, "/tcp"))
	}
	for v := range c.Volumes {
		vols = append(vols, v)
	}
	sort.Strings(ports)
	sort.Strings(vols)
	gotPorts := strings.Fields(got["EXPOSE"])
	sort.Strings(gotPorts)
	want := map[string]string{
		"USER":       c.User,
		"ENTRYPOINT": jsonArray(c.Entrypoint),
		"CMD":        jsonArray(c.Cmd),
		"VOLUME":     strings.Join(vols, " "),
		"WORKDIR":    c.WorkingDir,
		"STOPSIGNAL": c.StopSignal,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Dockerfile %s %q, builder %q", k, got[k], v)
		}
	}
	if strings.Join(gotPorts, " ") != strings.Join(ports, " ") {
		t.Errorf("Dockerfile EXPOSE %v, builder %v", gotPorts, ports)
	}
	sort.Strings(env)
	builderEnv := append([]string(nil), c.Env...)
	sort.Strings(builderEnv)
	if strings.Join(env, " ") != strings.Join(builderEnv, " ") {
		t.Errorf("Dockerfile ENV %q, builder %q", env, builderEnv)
	}
	for _, path := range []string{"/usr/local/bin/golem", "/etc/ssl/certs/ca-certificates.crt", "golem:x:65532:65532:golem:/data", "chown 65532:65532 /out/data", "chmod 1777 /out/tmp", "CGO_ENABLED=0"} {
		if !strings.Contains(string(src), path) {
			t.Errorf("Dockerfile does not mention %s", path)
		}
	}
}
