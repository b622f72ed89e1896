// fetch: prints the body of a URL, as `curl -s` does (rusm::fetch).
//   rusm run fetch.wasm --allow-net example.com:443 -- https://example.com/
// Options after the URL: -i (the status line and headers first), -X METHOD,
// -d DATA (a request body; POST unless -X says otherwise), -H "Name: value"
// (repeatable), -m SECONDS (a timeout). Exit status: 0 for a 2xx answer, 22
// for another status (as curl -f), 1 if the fetch failed (why, on stderr).
use rusm::fetch::Request;
use std::io::Write;
use std::time::Duration;

fn reason(e: rusm::Error) -> &'static str {
    match e {
        rusm::Error::DENIED => "not allowed (grant the host with --allow-net HOST:PORT)",
        rusm::Error::NOTCONN => "could not resolve or reach the host",
        rusm::Error::TIMEOUT => "timed out",
        rusm::Error::AUTH => "the server's certificate does not verify",
        rusm::Error::TOOLARGE => "the response is larger than allowed",
        rusm::Error::BADARG => "bad request (the URL, the method or a header)",
        rusm::Error::IO => "the server's answer is not valid HTTP",
        _ => "failed",
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let url = match args.first() {
        Some(u) => u.clone(),
        None => {
            eprintln!("usage: fetch URL [-i] [-X METHOD] [-d DATA] [-H 'Name: value']... [-m SECONDS]");
            std::process::exit(2);
        }
    };
    let (mut method, mut data, mut show_head) = (None, None, false);
    let mut headers = Vec::new();
    let mut timeout = None;
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        if flag == "-i" {
            show_head = true;
            continue;
        }
        let value = match rest.next() {
            Some(v) if ["-X", "-d", "-H", "-m"].contains(&flag.as_str()) => v.clone(),
            _ => {
                eprintln!("fetch: unknown option {}", flag);
                std::process::exit(2);
            }
        };
        match flag.as_str() {
            "-X" => method = Some(value),
            "-d" => data = Some(value),
            "-H" => headers.push(value),
            _ => timeout = value.parse::<f64>().ok(),
        }
    }
    let method = method.unwrap_or_else(|| if data.is_some() { "POST" } else { "GET" }.to_string());
    let mut req = Request::new(&method, &url);
    for h in &headers {
        let (name, value) = h.split_once(':').unwrap_or((h, ""));
        req = req.header(name.trim(), value.trim());
    }
    if let Some(d) = data {
        req = req.body(d);
    }
    if let Some(s) = timeout {
        req = req.timeout(Duration::from_secs_f64(s));
    }
    let mut res = match req.send() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fetch: {}: {} ({})", url, reason(e), e);
            std::process::exit(1);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if show_head {
        write!(out, "HTTP/1.1 {}\r\n", res.status()).ok();
        for (name, value) in res.headers() {
            write!(out, "{}: {}\r\n", name, value).ok();
        }
        write!(out, "\r\n").ok();
    }
    // The body streams through: Response implements std::io::Read.
    if let Err(e) = std::io::copy(&mut res, &mut out) {
        let code = e.get_ref().and_then(|i| i.downcast_ref::<rusm::Error>()).copied();
        eprintln!("fetch: {}: reading the body: {}", url, code.map_or("failed", reason));
        std::process::exit(1);
    }
    out.flush().ok();
    std::process::exit(if (200..300).contains(&res.status()) { 0 } else { 22 });
}
