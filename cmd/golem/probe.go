package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// probeCommand GETs each URL and succeeds when all answer 2xx: the health
// check of an image without a shell or curl (the chart's `helm test` hook
// runs it; docs/roles.md).
func probeCommand(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: golem probe [--timeout 5s] URL...")
		fmt.Fprintln(stderr, "\nGETs every URL (at once) and exits 0 when each answers 2xx within the timeout, otherwise 1")
		fmt.Fprintln(stderr, "after one line per failing URL. For health checks where there is no shell or curl.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	timeout := fs.Duration("timeout", 5*time.Second, "how long each URL may take to answer")
	urls, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(urls) == 0 {
		fmt.Fprintln(stderr, "golem probe: no URL given")
		fs.Usage()
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "golem probe: --timeout %v: want a positive duration such as 5s\n", *timeout)
		return 2
	}
	results := make([]error, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = probeURL(u, *timeout)
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range results {
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "%s: %v\n", urls[i], err)
		} else {
			fmt.Fprintf(stdout, "%s: ok\n", urls[i])
		}
	}
	if failed > 0 {
		return 1
	}
	return 0
}

// probeURL GETs u and returns nil for a 2xx answer within timeout.
func probeURL(u string, timeout time.Duration) error {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		return errors.New("not an http:// or https:// URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "golem-probe/"+version)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer within %v", timeout)
		}
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New(resp.Status)
	}
	return nil
}
