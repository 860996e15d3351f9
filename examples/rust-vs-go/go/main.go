// items: the Go side of joules' Rust-vs-Go proof of concept, written with the standard library
// only. GET /items?n=N&seed=S answers a JSON document of N generated items (see ../README.md for
// the exact semantics, which the Rust service shares byte for byte).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

const maxItems = 10000

type item struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Tag   string `json:"tag"`
	Value uint64 `json:"value"`
	Score uint64 `json:"score"`
}

type document struct {
	N     int    `json:"n"`
	Seed  uint64 `json:"seed"`
	Items []item `json:"items"`
	Sum   uint64 `json:"sum"`
	Min   uint64 `json:"min"`
	Max   uint64 `json:"max"`
}

// digits: a query value must be plain decimal digits (no sign, no spaces), as in the Rust service.
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// param: the first value of key in the raw query, as written (no percent-decoding, as in the Rust
// service: the values used here are plain digits, and both must answer the same bytes).
func param(raw, key string) (string, bool) {
	for _, kv := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k == key {
			return v, true
		}
	}
	return "", false
}

func build(n int, seed uint64) document {
	d := document{N: n, Seed: seed, Items: make([]item, 0, n)}
	x := seed
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		name := "item-" + strconv.Itoa(i)
		h := fnv.New64a()
		h.Write([]byte(name))
		value := (x >> 33) % 1000000
		it := item{
			ID:    i,
			Name:  name,
			Tag:   fmt.Sprintf("%016x", h.Sum64()^x),
			Value: value,
			Score: value * uint64(i+1) % 1000003,
		}
		d.Items = append(d.Items, it)
		d.Sum += value
		if i == 0 || value < d.Min {
			d.Min = value
		}
		if value > d.Max {
			d.Max = value
		}
	}
	return d
}

func reply(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

func items(w http.ResponseWriter, r *http.Request) {
	n, seed := 10, uint64(1)
	if v, ok := param(r.URL.RawQuery, "n"); ok {
		k, err := strconv.Atoi(v)
		if !digits(v) || err != nil || k > maxItems {
			reply(w, http.StatusBadRequest, map[string]string{"error": "bad n"})
			return
		}
		n = k
	}
	if v, ok := param(r.URL.RawQuery, "seed"); ok {
		s, err := strconv.ParseUint(v, 10, 64)
		if !digits(v) || err != nil {
			reply(w, http.StatusBadRequest, map[string]string{"error": "bad seed"})
			return
		}
		seed = s
	}
	reply(w, http.StatusOK, build(n, seed))
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on (port 0: any)")
	portFile := flag.String("port-file", "", "write the port here once listening")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if *portFile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		if err := os.WriteFile(*portFile, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/items", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			reply(w, http.StatusNotFound, map[string]string{"error": "not found"})
			return
		}
		items(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusNotFound, map[string]string{"error": "not found"})
	})
	log.Fatal(http.Serve(ln, mux))
}
