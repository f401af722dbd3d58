//! Local receivers for tests: an HTTP server that records requests (webhooks, Slack) and an SMTP
//! server that speaks just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to record
//! messages. Standard library only, loopback only, one thread per connection; shared by the
//! listener's unit tests and pgrx-tests/tests/listener.rs (both include this file by path).
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Poll `done` every 20 ms until it holds or `timeout` passes; true if it held.
pub fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

type Handler<S> = fn(TcpStream, &Mutex<S>) -> std::io::Result<()>;

/// Listen on a free loopback port; each connection is served by `handler` on its own thread.
fn serve_loopback<S: Default + Send + 'static>(handler: Handler<S>) -> (u16, Arc<Mutex<S>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("sink address").port();
    let state = Arc::new(Mutex::new(S::default()));
    let shared = state.clone();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let state = shared.clone();
            thread::spawn(move || {
                let _ = handler(stream, &state);
            });
        }
    });
    (port, state)
}

#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

#[derive(Default)]
struct HttpState {
    requests: Vec<HttpRequest>,
    responses: HashMap<String, (u16, String)>,
    delays: HashMap<String, Duration>,
}

/// Answers 200 "ok" to every path unless told otherwise with `respond` or `delay`.
#[derive(Clone)]
pub struct HttpSink {
    port: u16,
    state: Arc<Mutex<HttpState>>,
}

impl HttpSink {
    pub fn start() -> HttpSink {
        let (port, state) = serve_loopback(serve_http);
        HttpSink { port, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn respond(&self, path: &str, status: u16, body: &str) {
        self.state
            .lock()
            .unwrap()
            .responses
            .insert(path.to_string(), (status, body.to_string()));
    }

    pub fn delay(&self, path: &str, by: Duration) {
        self.state
            .lock()
            .unwrap()
            .delays
            .insert(path.to_string(), by);
    }

    pub fn requests(&self) -> Vec<HttpRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<HttpRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

fn serve_http(stream: TcpStream, state: &Mutex<HttpState>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    let (status, text, delay) = {
        let mut s = state.lock().unwrap();
        s.requests.push(HttpRequest {
            method,
            path: path.clone(),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        let (status, text) = s
            .responses
            .get(&path)
            .cloned()
            .unwrap_or((200, "ok".to_string()));
        (status, text, s.delays.get(&path).copied())
    };
    if let Some(d) = delay {
        thread::sleep(d);
    }
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} Status\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )?;
    out.flush()
}

#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub recipients: Vec<String>,
    /// The message as sent after DATA (headers and body, CRLF line ends, dot-stuffing undone).
    pub data: String,
}

#[derive(Default)]
struct SmtpState {
    messages: Vec<Mail>,
    rejected: HashSet<String>,
}

#[derive(Clone)]
pub struct SmtpSink {
    port: u16,
    state: Arc<Mutex<SmtpState>>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let (port, state) = serve_loopback(serve_smtp);
        SmtpSink { port, state }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Answer 550 to RCPT TO this address.
    pub fn reject_recipient(&self, address: &str) {
        self.state
            .lock()
            .unwrap()
            .rejected
            .insert(address.to_string());
    }

    pub fn messages(&self) -> Vec<Mail> {
        self.state.lock().unwrap().messages.clone()
    }

    pub fn messages_to(&self, address: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.recipients.iter().any(|r| r == address))
            .collect()
    }
}

fn angle_address(arg: &str) -> String {
    let start = arg.find('<').map_or(0, |i| i + 1);
    let end = arg[start..].find('>').map_or(arg.len(), |i| start + i);
    arg[start..end].trim().to_string()
}

fn serve_smtp(stream: TcpStream, state: &Mutex<SmtpState>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    out.write_all(b"220 sink ESMTP test receiver\r\n")?;
    let mut from = String::new();
    let mut recipients: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let upper = line.to_ascii_uppercase();
        let reply: &str = if upper.starts_with("EHLO") {
            "250-sink greets you\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            "250 OK\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            from = angle_address(&line[10..]);
            recipients.clear();
            "250 OK\r\n"
        } else if upper.starts_with("RCPT TO:") {
            let to = angle_address(&line[8..]);
            if state.lock().unwrap().rejected.contains(&to) {
                "550 5.1.1 no such mailbox\r\n"
            } else {
                recipients.push(to);
                "250 OK\r\n"
            }
        } else if upper == "DATA" {
            out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            let mut data = Vec::new();
            loop {
                let mut l = String::new();
                if reader.read_line(&mut l)? == 0 {
                    return Ok(());
                }
                let l = l.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push(l.strip_prefix('.').unwrap_or(l).to_string());
            }
            state.lock().unwrap().messages.push(Mail {
                from: from.clone(),
                recipients: std::mem::take(&mut recipients),
                data: data.join("\r\n"),
            });
            "250 OK queued\r\n"
        } else if upper == "RSET" {
            recipients.clear();
            "250 OK\r\n"
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            "502 command not implemented\r\n"
        };
        out.write_all(reply.as_bytes())?;
    }
}
