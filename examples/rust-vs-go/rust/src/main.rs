//! items: the Rust side of joules' Rust-vs-Go proof of concept, with hyper 0.14, tokio and
//! serde_json. GET /items?n=N&seed=S answers a JSON document of N generated items (see
//! ../README.md for the exact semantics, which the Go service shares byte for byte).
use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Method, Request, Response, Server, StatusCode};
use serde::Serialize;

const MAX_ITEMS: usize = 10000;

#[derive(Serialize)]
struct Item {
    id: usize,
    name: String,
    tag: String,
    value: u64,
    score: u64,
}

#[derive(Serialize)]
struct Document {
    n: usize,
    seed: u64,
    items: Vec<Item>,
    sum: u64,
    min: u64,
    max: u64,
}

#[derive(Serialize)]
struct Error {
    error: &'static str,
}

fn fnv1a64(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn build(n: usize, seed: u64) -> Document {
    let mut d = Document { n, seed, items: Vec::with_capacity(n), sum: 0, min: 0, max: 0 };
    let mut x = seed;
    for i in 0..n {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let name = format!("item-{}", i);
        let value = (x >> 33) % 1000000;
        d.items.push(Item {
            id: i,
            tag: format!("{:016x}", fnv1a64(&name) ^ x),
            name,
            value,
            score: value * (i as u64 + 1) % 1000003,
        });
        d.sum += value;
        if i == 0 || value < d.min {
            d.min = value;
        }
        if value > d.max {
            d.max = value;
        }
    }
    d
}

/// The first value of a query parameter, as it appears (the values used here are plain digits).
fn param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then_some(v)
    })
}

/// A query value must be plain decimal digits (no sign, no spaces), as in the Go service.
fn number<T: std::str::FromStr>(v: &str) -> Option<T> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn reply<T: Serialize>(status: StatusCode, v: &T) -> Response<Body> {
    let mut body = serde_json::to_vec(v).expect("serialisable");
    body.push(b'\n');
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Body::from(body))
        .expect("valid response")
}

async fn handle(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    if req.uri().path() != "/items" || req.method() != Method::GET {
        return Ok(reply(StatusCode::NOT_FOUND, &Error { error: "not found" }));
    }
    let query = req.uri().query().unwrap_or("");
    let mut n = 10;
    let mut seed = 1;
    if let Some(v) = param(query, "n") {
        match number::<usize>(v) {
            Some(k) if k <= MAX_ITEMS => n = k,
            _ => return Ok(reply(StatusCode::BAD_REQUEST, &Error { error: "bad n" })),
        }
    }
    if let Some(v) = param(query, "seed") {
        match number::<u64>(v) {
            Some(s) => seed = s,
            None => return Ok(reply(StatusCode::BAD_REQUEST, &Error { error: "bad seed" })),
        }
    }
    Ok(reply(StatusCode::OK, &build(n, seed)))
}

#[tokio::main]
async fn main() {
    let mut listen = String::from("127.0.0.1:8080");
    let mut port_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => listen = args.next().expect("--listen ADDR"),
            "--port-file" => port_file = args.next(),
            _ => {
                eprintln!("usage: items [--listen ADDR] [--port-file FILE]");
                std::process::exit(2);
            }
        }
    }
    let addr: SocketAddr = listen.parse().expect("--listen: an address such as 127.0.0.1:0");
    let make = make_service_fn(|_conn| async { Ok::<_, Infallible>(service_fn(handle)) });
    let server = Server::bind(&addr).serve(make);
    if let Some(f) = port_file {
        std::fs::write(f, format!("{}\n", server.local_addr().port())).expect("--port-file");
    }
    if let Err(e) = server.await {
        eprintln!("items: {}", e);
        std::process::exit(1);
    }
}
