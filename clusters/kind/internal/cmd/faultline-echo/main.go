// Command faultline-echo is the trivial static program that tests faultline's image mechanism
// (a static binary in a minimal image, loaded into kind) and the cluster's Service routing: it
// answers every HTTP request with the name of the pod (or host) that served it.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
)

func main() {
	addr := flag.String("listen", ":8080", "address to listen on")
	flag.Parse()
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, name)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
