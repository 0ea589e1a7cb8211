// Command faultline-echo is the trivial static program that tests faultline's image mechanism
// (a static binary in a minimal image, loaded into kind) and the cluster's Service routing.
//
// As a server (the default) it answers every HTTP request with the name of the pod that served
// it. As a client (-get URL) it requests URL until it has seen -want different pods answer, prints
// their names, and exits 0; it exits 1 if that does not happen within -timeout. The kind e2e runs
// the client as a Job on one node against a Service whose pods run on others: a request that
// needs CoreDNS, kube-proxy and the route between nodes. With -expect TEXT the client instead
// requests URL until an answer with status 200 holds TEXT (e.g. a metric's name), prints the
// lines that hold it and exits 0, or exits 1 after -timeout.
//
// The real-world runner (package realrun, kind clusters) runs it in place of a scenario's images,
// which cannot be pulled offline: -listen takes a comma-separated list of addresses (every port
// the container's probes and containerPorts name), and -run D makes it a Job's app container that
// serves for a time drawn uniformly within ±50 % of D and then exits, 1 with probability
// -fail-ratio, else 0 (the simulator's faultline.dev/run-time and failure-ratio).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/clusters/echoapp"
	"github.com/faultline-dev/faultline/clusters/loadgen"
)

func main() {
	addr := flag.String("listen", ":8080", "server: addresses to listen on, comma-separated")
	run := flag.Duration("run", 0, "server: exit after a time drawn within ±50 % of this (0: serve until stopped)")
	failRatio := flag.Float64("fail-ratio", 0, "with -run: the probability of exiting 1 instead of 0")
	get := flag.String("get", "", "client: URL to request")
	want := flag.Int("want", 2, "client: how many different pods must answer")
	timeout := flag.Duration("timeout", time.Minute, "client: give up after this long")
	expect := flag.String("expect", "", "client: request until an answer holds this text")
	load := flag.Bool("load", false, "load generator: send the traffic of FAULTLINE_LOAD (a JSON loadgen.Config) and print its record")
	flag.Parse()
	if *load {
		os.Exit(runLoad())
	}
	if *get != "" && *expect != "" {
		os.Exit(expectText(*get, *expect, *timeout))
	}
	if *get != "" {
		os.Exit(client(*get, *want, *timeout))
	}
	if cfg, err := echoapp.FromEnv(); err == nil {
		os.Exit(serveApp(cfg))
	} else if !errors.Is(err, echoapp.ErrNoConfig) {
		log.Fatal(err)
	}
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, name)
	})
	addrs := strings.Split(*addr, ",")
	for _, a := range addrs[1:] {
		go func() { log.Fatal(http.ListenAndServe(a, nil)) }()
	}
	if *run > 0 {
		d := time.Duration(float64(*run) * (0.5 + rand.Float64()))
		go func() {
			time.Sleep(d)
			code := 0
			if rand.Float64() < *failRatio {
				code = 1
			}
			fmt.Printf("ran %s, exit %d\n", d.Round(time.Millisecond), code)
			os.Exit(code)
		}()
	}
	log.Fatal(http.ListenAndServe(addrs[0], nil))
}

func client(url string, want int, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	seen := map[string]bool{}
	var lastErr error
	for len(seen) < want {
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "saw %d of %d pods answer %s within %s; last error: %v\n", len(seen), want, url, timeout, lastErr)
			return 1
		}
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		// a new connection per request, so that kube-proxy picks an endpoint each time
		resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if n := strings.TrimSpace(string(b)); resp.StatusCode == http.StatusOK && n != "" {
				seen[n] = true
			}
		} else {
			lastErr = err
			time.Sleep(500 * time.Millisecond)
		}
		rcancel()
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Println(strings.Join(names, "\n"))
	return 0
}

func expectText(url, text string, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	last := "no answer"
	for ctx.Err() == nil {
		rctx, rcancel := context.WithTimeout(ctx, 3*time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.Contains(string(b), text) {
				rcancel()
				for _, l := range strings.Split(string(b), "\n") {
					if strings.Contains(l, text) {
						fmt.Println(l)
					}
				}
				return 0
			}
			last = fmt.Sprintf("status %d, %d bytes without %q", resp.StatusCode, len(b), text)
		} else {
			last = err.Error()
		}
		rcancel()
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	fmt.Fprintf(os.Stderr, "no answer from %s held %q within %s; last: %s\n", url, text, timeout, last)
	return 1
}

// serveApp runs the scenario's app until SIGTERM's policy says to exit (or SIGINT).
func serveApp(cfg echoapp.Config) int {
	a, err := echoapp.New(cfg)
	if err != nil {
		log.Print(err)
		return 2
	}
	if err := a.Start(); err != nil {
		log.Print(err)
		return 1
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	for s := range sig {
		if s == syscall.SIGINT || a.Terminate() {
			a.Close()
			return 0
		}
		log.Printf("SIGTERM: %s, serving until killed", cfg.OnSIGTERM)
	}
	return 0
}

// runLoad is the load generator's Job: it sends until the configured end and exits.
func runLoad() int {
	cfg, err := loadgen.FromEnv()
	if err != nil {
		log.Print(err)
		return 2
	}
	g, err := loadgen.New(cfg, os.Stdout)
	if err != nil {
		log.Print(err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := g.Run(ctx); err != nil {
		log.Print(err)
		return 1
	}
	return 0
}
