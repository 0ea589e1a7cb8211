// faultline-registry serves package registry's Handler (an OCI registry: in-memory storage,
// manifest deletion enabled) on -listen, as the container a kind cluster's nodes pull from.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/faultline-dev/faultline/clusters/registry"
)

func main() {
	listen := flag.String("listen", ":5000", "address of the registry's HTTP API")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: *listen, Handler: registry.Handler(ctx), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	fmt.Println("faultline-registry listening on", *listen)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "faultline-registry:", err)
		os.Exit(1)
	}
}
