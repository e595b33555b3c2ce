//! Pure FTP line decoding: lines (CRLF or bare LF, capped), commands, reply lines, and
//! the data endpoints of `227`/`229` replies and `PORT`/`EPRT` arguments.

use std::net::{IpAddr, Ipv4Addr};

/// Longest line kept (longer ones are counted and skipped).
pub const MAX_LINE: usize = 8192;

/// Longest reply text / argument kept in a row.
pub const MAX_TEXT: usize = 256;

/// Longest argument kept in `request_resource`.
pub const MAX_ARG: usize = 1024;

/// A line at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// A whole line without its line ending, and the bytes it takes with it.
    Done(&'a [u8], usize),
    /// No line ending yet.
    Partial,
    /// No line ending within [`MAX_LINE`] bytes.
    TooLong,
}

/// The line at the start of `buf`.
pub fn line(buf: &[u8]) -> Line<'_> {
    let window = &buf[..buf.len().min(MAX_LINE)];
    match memchr::memchr(b'\n', window) {
        Some(i) => {
            let mut l = &buf[..i];
            if let [rest @ .., b'\r'] = l {
                l = rest;
            }
            Line::Done(l, i + 1)
        }
        None if buf.len() >= MAX_LINE => Line::TooLong,
        None => Line::Partial,
    }
}

/// Every command of RFC 959, 2228, 2389, 2428, 2640, 3659, 7151 and the common
/// extensions (RFC 775 `X…` forms, `CLNT`, `SITE` subcommands are arguments…).
pub const KNOWN: &[&str] = &[
    // RFC 959
    "USER", "PASS", "ACCT", "CWD", "CDUP", "SMNT", "REIN", "QUIT", "PORT", "PASV", "TYPE", "STRU",
    "MODE", "RETR", "STOR", "STOU", "APPE", "ALLO", "REST", "RNFR", "RNTO", "ABOR", "DELE", "RMD",
    "MKD", "PWD", "LIST", "NLST", "SITE", "SYST", "STAT", "HELP", "NOOP", // RFC 2228
    "AUTH", "ADAT", "PROT", "PBSZ", "CCC", "MIC", "CONF", "ENC", // RFC 2389
    "FEAT", "OPTS", // RFC 2428
    "EPRT", "EPSV", // RFC 3659
    "MDTM", "SIZE", "MLST", "MLSD", // RFC 2640
    "LANG", // RFC 7151
    "HOST", // RFC 775 and common extensions
    "XPWD", "XCWD", "XCUP", "XMKD", "XRMD", "CLNT", "LPRT", "LPSV", "MFMT", "MFCT", "MFF", "AVBL",
    "CSID", "DSIZ", "THMB", "XCRC", "XMD5", "XSHA1", "XSHA256", "XSHA512", "MODZ", "SPSV", "ESTA",
    "ESTP", "MACB", "XRCP", "XRSQ", "XSEM", "XSEN", "XMAS", "MSAM", "MSND", "MSOM", "MAIL", "MLFL",
];

/// Commands that POP3, SMTP and IMAP do not have: a line starting with one is FTP.
pub const FTP_ONLY: &[&str] = &[
    "ACCT", "CWD", "CDUP", "SMNT", "REIN", "PORT", "PASV", "TYPE", "STRU", "MODE", "STOR", "STOU",
    "APPE", "ALLO", "REST", "RNFR", "RNTO", "ABOR", "DELE", "RMD", "MKD", "PWD", "NLST", "SITE",
    "SYST", "ADAT", "PROT", "PBSZ", "CCC", "FEAT", "OPTS", "EPRT", "EPSV", "MDTM", "SIZE", "MLST",
    "MLSD", "XPWD", "XCWD", "XCUP", "XMKD", "XRMD", "CLNT", "LPRT", "LPSV", "MFMT",
];

/// Commands whose reply ends a data transfer.
pub const TRANSFERS: &[&str] = &["RETR", "STOR", "STOU", "APPE", "LIST", "NLST", "MLSD"];

/// A command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Upper-cased verb.
    pub verb: String,
    /// Argument as sent (lossy UTF-8, trimmed).
    pub arg: String,
}

/// Telnet IAC sequences (`IAC IP IAC DM` before `ABOR`, RFC 959 §4.1.3) and blanks
/// before a command.
fn skip_telnet(mut l: &[u8]) -> &[u8] {
    loop {
        match l {
            [0xff, 0xfb..=0xfe, _, rest @ ..] => l = rest,
            [0xff, _, rest @ ..] => l = rest,
            [b' ' | b'\t' | 0, rest @ ..] => l = rest,
            _ => return l,
        }
    }
}

/// Decodes a command line: a verb of 1–16 ASCII letters or digits starting with a letter,
/// then a space and the argument. `None` for anything else.
pub fn command(l: &[u8]) -> Option<Command> {
    let l = skip_telnet(l);
    let end = l.iter().position(|&b| b == b' ').unwrap_or(l.len());
    let verb = &l[..end];
    if verb.is_empty()
        || verb.len() > 16
        || !verb[0].is_ascii_alphabetic()
        || !verb.iter().all(u8::is_ascii_alphanumeric)
    {
        return None;
    }
    let arg = l.get(end + 1..).unwrap_or_default();
    let arg = String::from_utf8_lossy(arg).trim().to_string();
    Some(Command {
        verb: String::from_utf8_lossy(verb).to_ascii_uppercase(),
        arg,
    })
}

/// Is `verb` (upper case) a known FTP command?
pub fn is_known(verb: &str) -> bool {
    KNOWN.contains(&verb)
}

/// A reply line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    /// The 3-digit code.
    pub code: u16,
    /// `-` opens a multi-line reply.
    pub more: bool,
    /// The text after the code and its separator.
    pub text: &'a [u8],
}

/// Decodes a line that starts with a reply code: 3 digits (first 1–6) followed by a
/// space, `-`, the end of the line, or (lenient, seen in the wild) directly the text.
pub fn reply_line(l: &[u8]) -> Option<ReplyLine<'_>> {
    let [a, b, c, rest @ ..] = l else {
        return None;
    };
    if !(b'1'..=b'6').contains(a) || !b.is_ascii_digit() || !c.is_ascii_digit() {
        return None;
    }
    let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    let (more, text) = match rest {
        [b'-', t @ ..] => (true, t),
        [b' ', t @ ..] => (false, t),
        [d, ..] if d.is_ascii_digit() => return None,
        t => (false, t),
    };
    Some(ReplyLine { code, more, text })
}

/// Text (lossy UTF-8, trimmed) cut to `max` bytes at a character boundary.
pub fn text(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(max + 4)]);
    let s = s.trim();
    let mut cut = s.len().min(max);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_string()
}

/// `h1,h2,h3,h4,p1,p2` somewhere in `s` (the `227` reply text, the `PORT` argument).
pub fn host_port(s: &[u8]) -> Option<(IpAddr, u16)> {
    let mut i = 0;
    while i < s.len() {
        if s[i].is_ascii_digit() && (i == 0 || !s[i - 1].is_ascii_digit()) {
            let mut n = [0u16; 6];
            let mut k = 0;
            let mut j = i;
            let mut ok = true;
            while k < 6 {
                let st = j;
                let mut v: u16 = 0;
                while j < s.len() && s[j].is_ascii_digit() && j - st < 3 {
                    v = v * 10 + u16::from(s[j] - b'0');
                    j += 1;
                }
                if j == st || v > 255 || (j < s.len() && s[j].is_ascii_digit()) {
                    ok = false;
                    break;
                }
                n[k] = v;
                k += 1;
                if k < 6 {
                    // Separator: a comma, with optional blanks around it.
                    while j < s.len() && s[j] == b' ' {
                        j += 1;
                    }
                    if j >= s.len() || s[j] != b',' {
                        ok = false;
                        break;
                    }
                    j += 1;
                    while j < s.len() && s[j] == b' ' {
                        j += 1;
                    }
                }
            }
            if ok {
                let ip = Ipv4Addr::new(n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8);
                return Some((IpAddr::V4(ip), n[4] << 8 | n[5]));
            }
        }
        i += 1;
    }
    None
}

/// Data-connection endpoints a control-connection payload announces: `227` (and, for
/// NAT, the control server's address with that port), `229`, `PORT`, `EPRT`. Used by the
/// dispatcher to send a data connection to the worker of its control connection, so
/// linking does not depend on the number of workers.
pub fn announcements(payload: &[u8], server: IpAddr, client: IpAddr, out: &mut Vec<(IpAddr, u16)>) {
    for l in payload.split(|&b| b == b'\n').take(64) {
        let l = l.trim_ascii();
        if let Some(rest) = l.strip_prefix(b"227") {
            if let Some((ip, p)) = host_port(rest) {
                out.push((ip, p));
                out.push((server, p));
            }
        } else if let Some(rest) = l.strip_prefix(b"229") {
            if let Some(p) = epsv_port(rest) {
                out.push((server, p));
            }
        } else if l.len() > 5 && l[..5].eq_ignore_ascii_case(b"PORT ") {
            if let Some((ip, p)) = host_port(&l[5..]) {
                out.push((ip, p));
                out.push((client, p));
            }
        } else if l.len() > 5
            && l[..5].eq_ignore_ascii_case(b"EPRT ")
            && let Some(ep) = eprt(&l[5..])
        {
            out.push(ep);
        }
    }
}

/// The port of an EPSV reply: `(<d><d><d>port<d>)` (RFC 2428 §3), the delimiter being
/// any printable character (usually `|`).
pub fn epsv_port(s: &[u8]) -> Option<u16> {
    let open = memchr::memchr(b'(', s)?;
    let r = &s[open + 1..];
    let [d, d2, d3, rest @ ..] = r else {
        return None;
    };
    if !(33..=126).contains(d) || d2 != d || d3 != d {
        return None;
    }
    let end = rest.iter().position(|b| b == d)?;
    port(&rest[..end])
}

fn port(b: &[u8]) -> Option<u16> {
    if b.is_empty() || b.len() > 5 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// An EPRT argument: `<d>1|2<d>address<d>port<d>` (RFC 2428 §2).
pub fn eprt(s: &[u8]) -> Option<(IpAddr, u16)> {
    let s = s.trim_ascii();
    let (&d, rest) = s.split_first()?;
    if !(33..=126).contains(&d) {
        return None;
    }
    let mut parts = rest.split(|&b| b == d);
    let af = parts.next()?;
    let addr = std::str::from_utf8(parts.next()?).ok()?;
    let p = port(parts.next()?)?;
    let ip: IpAddr = match af {
        b"1" => IpAddr::V4(addr.parse().ok()?),
        b"2" => IpAddr::V6(addr.parse().ok()?),
        _ => return None,
    };
    Some((ip, p))
}

/// Does a client's first bytes look like FTP? `Some(true)`: a complete line with a
/// command only FTP has; `Some(false)`: a known FTP command (shared with POP3/SMTP…)
/// or too few bytes to tell; `None`: not FTP.
pub fn looks_like_command(b: &[u8]) -> Option<bool> {
    match line(b) {
        Line::Done(l, _) => {
            let c = command(l)?;
            if FTP_ONLY.contains(&c.verb.as_str()) {
                Some(true)
            } else if is_known(&c.verb) {
                Some(false)
            } else {
                None
            }
        }
        Line::TooLong => None,
        Line::Partial => {
            let b = skip_telnet(b);
            let end = b.iter().position(|&x| x == b' ').unwrap_or(b.len());
            let v = b[..end].to_ascii_uppercase();
            let prefix = KNOWN.iter().any(|k| {
                if end < b.len() {
                    k.as_bytes() == v.as_slice()
                } else {
                    k.as_bytes().starts_with(&v)
                }
            });
            prefix.then_some(false)
        }
    }
}

/// Does a server's first bytes look like an FTP greeting? `Some(true)`: a `220` line
/// that says FTP; `Some(false)`: a `220` (or `120`/`421`) line that does not say which
/// protocol (SMTP greets with `220` too), or too few bytes; `None`: not FTP.
pub fn looks_like_greeting(b: &[u8]) -> Option<bool> {
    match line(b) {
        Line::Done(l, _) => {
            let r = reply_line(l)?;
            if !matches!(r.code, 220 | 120 | 421) || (l.len() > 3 && !matches!(l[3], b' ' | b'-')) {
                return None;
            }
            let t = r.text.to_ascii_uppercase();
            let has = |w: &[u8]| t.windows(w.len()).any(|x| x == w);
            if has(b"SMTP") || has(b"POP3") || has(b"IMAP") {
                None
            } else if r.code == 220 && has(b"FTP") {
                Some(true)
            } else {
                Some(false)
            }
        }
        Line::TooLong => None,
        Line::Partial => {
            let want = b"220 ";
            let n = b.len().min(4);
            (b[..n] == want[..n] || (n == 4 && &b[..4] == b"220-")).then_some(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(line(b"USER x\r\nPASS"), Line::Done(b"USER x", 8));
        assert_eq!(line(b"NOOP\n"), Line::Done(b"NOOP", 5));
        assert_eq!(line(b"NOOP"), Line::Partial);
        assert_eq!(line(&[b'a'; MAX_LINE]), Line::TooLong);
    }

    #[test]
    fn commands() {
        let c = command(b"retr /pub/file name.txt").unwrap();
        assert_eq!(
            (c.verb.as_str(), c.arg.as_str()),
            ("RETR", "/pub/file name.txt")
        );
        let c = command(b"\xff\xf4\xff\xf2ABOR").unwrap();
        assert_eq!((c.verb.as_str(), c.arg.as_str()), ("ABOR", ""));
        assert_eq!(command(b"XYZZY arg").unwrap().verb, "XYZZY");
        assert!(command(b"").is_none());
        assert!(command(b"220 hello").is_none());
        assert!(command(b"GET/ x").is_none());
    }

    #[test]
    fn replies() {
        let r = reply_line(b"230-Welcome").unwrap();
        assert_eq!((r.code, r.more, r.text), (230, true, &b"Welcome"[..]));
        let r = reply_line(b"226 Transfer complete.").unwrap();
        assert_eq!((r.code, r.more), (226, false));
        assert_eq!(reply_line(b"200").unwrap().code, 200);
        assert_eq!(
            reply_line(b"200Command okay").unwrap().text,
            b"Command okay"
        );
        assert!(reply_line(b"2000 x").is_none());
        assert!(reply_line(b"abc").is_none());
        assert!(reply_line(b"20").is_none());
    }

    #[test]
    fn endpoints() {
        // zeek ipv4.pcap
        assert_eq!(
            host_port(b"Entering Passive Mode (199,233,217,249,221,90)"),
            Some(([199, 233, 217, 249].into(), 221 * 256 + 90))
        );
        // Some servers omit the parentheses.
        assert_eq!(
            host_port(b"Entering Passive Mode 10,0,0,1,4,1."),
            Some(([10, 0, 0, 1].into(), 1025))
        );
        assert_eq!(
            host_port(b"192,168,1,2,7,138"),
            Some(([192, 168, 1, 2].into(), 1930))
        );
        assert_eq!(host_port(b"256,1,1,1,1,1"), None);
        assert_eq!(host_port(b"1,2,3,4,5"), None);
        // zeek retr.pcap
        assert_eq!(
            epsv_port(b"Entering Extended Passive Mode (|||38141|)"),
            Some(38141)
        );
        assert_eq!(
            epsv_port(b"Entering Extended Passive Mode (!!!5282!)"),
            Some(5282)
        );
        assert_eq!(epsv_port(b"(|||99999|)"), None);
        assert_eq!(epsv_port(b"(||"), None);
        assert_eq!(
            eprt(b"|1|132.235.1.2|6275|"),
            Some(([132, 235, 1, 2].into(), 6275))
        );
        assert_eq!(
            eprt(b"|2|2001:470:1f11:81f:c999:d94:aa7c:2e3e|49189|"),
            Some((
                "2001:470:1f11:81f:c999:d94:aa7c:2e3e".parse().unwrap(),
                49189
            ))
        );
        assert_eq!(eprt(b"|3|x|1|"), None);
        assert_eq!(eprt(b"|1|1.2.3.4|"), None);
    }

    #[test]
    fn probes() {
        assert_eq!(looks_like_command(b"TYPE I\r\n"), Some(true));
        assert_eq!(looks_like_command(b"USER anonymous\r\n"), Some(false));
        assert_eq!(looks_like_command(b"US"), Some(false));
        assert_eq!(looks_like_command(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(looks_like_command(b"EHLO x\r\n"), None);
        assert_eq!(
            looks_like_greeting(b"220 ftp.example.com FTP server ready\r\n"),
            Some(true)
        );
        assert_eq!(looks_like_greeting(b"220 (vsFTPd 3.0.3)\r\n"), Some(true));
        assert_eq!(looks_like_greeting(b"220 hello\r\n"), Some(false));
        assert_eq!(looks_like_greeting(b"220 mx ESMTP Postfix\r\n"), None);
        assert_eq!(looks_like_greeting(b"22"), Some(false));
        assert_eq!(looks_like_greeting(b"HTTP/1.1 200 OK\r\n"), None);
    }
}
