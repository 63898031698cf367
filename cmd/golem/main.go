// Command golem is Golem's single binary: it runs models from the command
// line today and grows into the server, web UI and pipelines roles.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.0.0-dev"

func main() {
	os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand of the binary.
type command struct {
	name    string
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "Run a model on a prompt, or chat with it interactively", runCommand},
		{"bench", "Measure prompt and generation speed, and the memory bandwidth", benchCommand},
		{"serve", "Start the server: web UI, Ollama and OpenAI APIs, pipelines (--role engine|ui for one part)", serveCommand},
		{"pull", "Pull a model from a registry", pullCommand},
		{"push", "Push a model to a registry", pushCommand},
		{"create", "Create a model from a Modelfile", createCommand},
		{"list", "List models", listCommand},
		{"ls", "List models (same as list)", listCommand},
		{"show", "Show information for a model", showCommand},
		{"cp", "Copy a model", copyCommand},
		{"rm", "Remove a model", removeCommand},
		{"ps", "List the models a running server has loaded", psCommand},
		{"stop", "Unload a model from a running server", stopCommand},
		{"pipelines", "Serve sandboxed filters and pipes over Open WebUI's Pipelines protocol (port 9099)", pipelinesCommand},
		{"probe", "Check that URLs answer 2xx (health checks where there is no curl)", probeCommand},
		{"version", "Print the version", func(_ []string, _ io.Reader, stdout, _ io.Writer) int {
			fmt.Fprintf(stdout, "golem version %s\n", version)
			return 0
		}},
	}
}

// Main runs the binary with the given arguments and streams, and returns
// the process exit status. Tests call it directly.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-v" {
		args[0] = "version"
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "golem: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Golem: large language models, self-hosted.")
	fmt.Fprintln(w, "\nUsage:\n  golem COMMAND [ARGS]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'golem COMMAND --help' for a command's flags.")
}
