use super::*;

#[test]
fn base64_matches_rfc4648() {
    for (input, expected) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("user:pass", "dXNlcjpwYXNz"),
    ] {
        assert_eq!(base64_encode(input.as_bytes()), expected);
    }
}

#[test]
fn digest_of_bytes() {
    assert_eq!(
        sha256_digest(b""),
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

/// A canned server answering tag-list pages, since registry 2.8 ignores `n` and never paginates.
#[test]
fn tag_list_follows_link_pages() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        // First the client asks whether the loopback port speaks TLS: a plain HTTP server answers the
        // ClientHello with a 400.
        let (mut probe, _) = listener.accept().expect("accept the TLS probe");
        let _ = std::io::Read::read(&mut probe, &mut [0u8; 512]);
        let _ = probe.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        drop(probe);
        let mut paths = Vec::new();
        for page in 0..2 {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            paths.push(line.split(' ').nth(1).unwrap_or("").to_string());
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).expect("header");
                if h.trim().is_empty() {
                    break;
                }
            }
            let (body, link) = if page == 0 {
                (
                    r#"{"name":"app","tags":["a","b"]}"#,
                    "Link: </v2/app/tags/list?last=b&n=2>; rel=\"next\"\r\n",
                )
            } else {
                (r#"{"name":"app","tags":["c"]}"#, "")
            };
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{link}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .expect("write");
        }
        paths
    });
    let client = Client::new(Settings::default()).expect("client");
    let image = ImageName::parse(&format!("127.0.0.1:{port}/app")).expect("image");
    let tags = client.list_tags(&image).expect("tags");
    assert_eq!(tags, ["a", "b", "c"]);
    let paths = server.join().expect("server");
    assert_eq!(
        paths,
        ["/v2/app/tags/list?n=1000", "/v2/app/tags/list?last=b&n=2"]
    );
}

#[test]
fn tls_unless_a_loopback_registry_speaks_none_or_insecure() {
    let client = Client::new(Settings::default()).expect("client");
    let base = |c: &Client, host: &str| c.rt.block_on(c.base(host));
    assert_eq!(base(&client, "ghcr.io"), "https://ghcr.io");
    assert_eq!(
        base(&client, "registry.internal:5000"),
        "https://registry.internal:5000"
    );
    assert_eq!(base(&client, "docker.io"), "https://registry-1.docker.io");
    // A loopback port that answers the TLS handshake with plain HTTP gets http, and is asked only once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        let mut hello = [0u8; 512];
        let _ = std::io::Read::read(&mut conn, &mut hello);
        let _ = std::io::Write::write_all(
            &mut conn,
            b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n",
        );
    });
    let host = format!("127.0.0.1:{port}");
    assert_eq!(base(&client, &host), format!("http://{host}"));
    server.join().expect("server");
    assert_eq!(base(&client, &host), format!("http://{host}"), "cached");
    // Nothing listening: http, as before (the request then fails to connect, and says so).
    let closed = format!("127.0.0.1:{}", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    });
    assert_eq!(base(&client, &closed), format!("http://{closed}"));
    let insecure = Client::new(Settings {
        insecure: true,
        ..Settings::default()
    })
    .expect("client");
    assert_eq!(
        base(&insecure, "registry.internal:5000"),
        "http://registry.internal:5000"
    );
}

#[test]
fn backoff_doubles_with_jitter_and_is_capped() {
    let client = Client::new(Settings::default()).expect("client");
    for attempt in 1..=12 {
        let full = Duration::from_millis(250)
            .saturating_mul(1 << (attempt - 1).min(10))
            .min(Duration::from_secs(8));
        let wait = client.backoff(attempt);
        assert!(
            wait >= full / 2 && wait <= full,
            "attempt {attempt}: {wait:?} vs {full:?}"
        );
    }
}
