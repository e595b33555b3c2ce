//! The OCI distribution / Docker registry HTTP API seen inside HTTP/1.x: classification
//! of request targets (`/v2/<name>/manifests/<reference>`, blobs, blob uploads, tags,
//! catalog, ping, referrers, and the bearer-token request of the auth dance), the row
//! columns and attributes of a registry call, and a bounded summary of manifest and index
//! JSON bodies. Pure functions; the HTTP session (`mod.rs`) calls them and writes the rows
//! under `l7_protocol = 'oci'`. See `README.md` for the mapping.

use super::parser::Fields;
use serde_json::Value;
use wirehouse_schema::{Attributes, Text};

/// `l7_protocol` of registry rows.
pub const PROTOCOL: &str = "oci";

/// Largest manifest body kept for summarising (larger ones are counted, not kept).
pub const MAX_BODY: usize = 256 * 1024;

/// Deepest JSON nesting accepted by [`summarize`].
const MAX_DEPTH: usize = 32;

/// Most platforms listed from an index.
const MAX_PLATFORMS: usize = 32;

/// Most path segments looked at in a `/v2/` path.
const MAX_SEGMENTS: usize = 64;

/// Longest repository name accepted (the distribution spec's limit is 255 with the host).
const MAX_NAME: usize = 255;

/// Most layer digests remembered from one manifest (see [`Summary::blobs`]).
const MAX_BLOBS: usize = 128;

/// The registry API endpoint a request is for (the `endpoint` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v2/`: API version check.
    Ping,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/<name>/tags/list`.
    Tags,
    /// `/v2/<name>/manifests/<reference>`.
    Manifests,
    /// `/v2/<name>/blobs/<digest>`.
    Blobs,
    /// `/v2/<name>/blobs/uploads/[<uuid>]`.
    BlobUpload,
    /// `/v2/<name>/referrers/<digest>` (OCI 1.1).
    Referrers,
    /// A token-server request (`?scope=repository:<name>:<actions>`).
    Token,
}

impl Endpoint {
    /// The `endpoint` column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Ping => "ping",
            Endpoint::Catalog => "catalog",
            Endpoint::Tags => "tags",
            Endpoint::Manifests => "manifests",
            Endpoint::Blobs => "blobs",
            Endpoint::BlobUpload => "blob_upload",
            Endpoint::Referrers => "referrers",
            Endpoint::Token => "token",
        }
    }
}

/// A classified registry API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Which API.
    pub endpoint: Endpoint,
    /// The request method.
    pub method: String,
    /// Repository name (`library/nginx`); empty for ping and catalog.
    pub repository: String,
    /// Tag or digest (manifests), digest (blobs, referrers, uploads with `?digest=`,
    /// mounts).
    pub reference: String,
    /// Upload session id (the last segment of `blobs/uploads/<uuid>`).
    pub upload_uuid: String,
    /// Cross-repository mount: the source repository (`?from=`).
    pub mount_from: String,
    /// Token request: the scope's actions (`pull,push`).
    pub actions: String,
    /// Token request: `service=`.
    pub service: String,
}

impl Call {
    fn new(endpoint: Endpoint, method: &str, repository: String) -> Call {
        Call {
            endpoint,
            method: method.to_string(),
            repository,
            reference: String::new(),
            upload_uuid: String::new(),
            mount_from: String::new(),
            actions: String::new(),
            service: String::new(),
        }
    }

    /// The `request_resource` column: `repository:tag`, `repository@digest`,
    /// `repository` (uploads, tags, token), `_catalog`, `/v2/` (ping).
    pub fn resource(&self) -> Text {
        match self.endpoint {
            Endpoint::Ping => "/v2/".into(),
            Endpoint::Catalog => "_catalog".into(),
            Endpoint::Manifests if !is_digest(&self.reference) => {
                wirehouse_schema::format_compact!("{}:{}", self.repository, self.reference)
            }
            Endpoint::Manifests | Endpoint::Blobs | Endpoint::Referrers => {
                wirehouse_schema::format_compact!("{}@{}", self.repository, self.reference)
            }
            Endpoint::Tags | Endpoint::BlobUpload | Endpoint::Token => {
                self.repository.as_str().into()
            }
        }
    }

    /// A GET or HEAD (reads whose response describes the object).
    pub fn is_read(&self) -> bool {
        self.method == "GET" || self.method == "HEAD"
    }

    /// The response body is a manifest or index worth keeping (GET of a manifest).
    pub fn captures_response(&self) -> bool {
        self.endpoint == Endpoint::Manifests && self.method == "GET"
    }

    /// The request body is a manifest or index worth keeping (PUT of a manifest).
    pub fn captures_request(&self) -> bool {
        self.endpoint == Endpoint::Manifests && self.method == "PUT"
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are; `+` is left alone).
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// One path component of a repository name: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn is_name_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &b[start..i];
        let ok = sep == b"." || sep == b"_" || sep == b"__" || sep.iter().all(|&x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A repository name from path segments, when valid.
fn name(segs: &[&str]) -> Option<String> {
    if segs.is_empty() || !segs.iter().all(|s| is_name_component(s)) {
        return None;
    }
    let n = segs.join("/");
    (n.len() <= MAX_NAME).then_some(n)
}

/// A content digest: `algorithm:encoded` (`sha256:<64 hex>`...).
pub fn is_digest(s: &str) -> bool {
    let Some((alg, enc)) = s.split_once(':') else {
        return false;
    };
    let alg_ok = !alg.is_empty()
        && alg.len() <= 32
        && alg.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'.' | b'_' | b'-')
        })
        && alg.as_bytes()[0].is_ascii_alphanumeric();
    let enc_ok = !enc.is_empty()
        && enc.len() <= 256
        && enc
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'=' | b'_' | b'-'));
    alg_ok && enc_ok
}

/// A tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The decoded value of the first `key=` parameter of a query string.
fn query_param(query: &str, key: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

/// Every decoded value of `key=` in a query string (at most 8).
fn query_params(query: &str, key: &str) -> Vec<String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == key)
        .take(8)
        .map(|(_, v)| percent_decode(v))
        .collect()
}

/// Classifies a request by its method and target; `None` when it is not a registry call.
pub fn classify(method: &str, target: &str) -> Option<Call> {
    let mut t = target;
    if let Some(rest) = t
        .strip_prefix("http://")
        .or_else(|| t.strip_prefix("https://"))
    {
        t = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    let t = t.split('#').next().unwrap_or_default();
    let (path, query) = t.split_once('?').unwrap_or((t, ""));
    let path = percent_decode(path);
    if let Some(rest) = path.strip_prefix("/v2")
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return classify_v2(method, rest, query);
    }
    token(method, query)
}

fn classify_v2(method: &str, rest: &str, query: &str) -> Option<Call> {
    if rest.is_empty() || rest == "/" {
        return Some(Call::new(Endpoint::Ping, method, String::new()));
    }
    let segs: Vec<&str> = rest[1..].splitn(MAX_SEGMENTS + 1, '/').collect();
    if segs.len() > MAX_SEGMENTS {
        return None;
    }
    if segs == ["_catalog"] {
        return Some(Call::new(Endpoint::Catalog, method, String::new()));
    }
    let n = segs.len();
    if n < 3 {
        return None;
    }
    let (last, second) = (segs[n - 1], segs[n - 2]);
    if second == "manifests" && (is_tag(last) || is_digest(last)) {
        let mut c = Call::new(Endpoint::Manifests, method, name(&segs[..n - 2])?);
        c.reference = last.to_string();
        return Some(c);
    }
    if second == "tags" && last == "list" {
        return Some(Call::new(Endpoint::Tags, method, name(&segs[..n - 2])?));
    }
    if second == "referrers" && is_digest(last) {
        let mut c = Call::new(Endpoint::Referrers, method, name(&segs[..n - 2])?);
        c.reference = last.to_string();
        return Some(c);
    }
    let upload = |name_end: usize, uuid: &str| -> Option<Call> {
        let mut c = Call::new(Endpoint::BlobUpload, method, name(&segs[..name_end])?);
        if uuid.len() <= 256 {
            c.upload_uuid = uuid.to_string();
        }
        let digest = query_param(query, "digest").filter(|d| is_digest(d));
        let mount = query_param(query, "mount").filter(|d| is_digest(d));
        if let Some(d) = digest.or(mount) {
            c.reference = d;
        }
        if let Some(from) = query_param(query, "from") {
            let segs: Vec<&str> = from.split('/').take(MAX_SEGMENTS).collect();
            c.mount_from = name(&segs).unwrap_or_default();
        }
        Some(c)
    };
    if n >= 4 && segs[n - 3] == "blobs" && second == "uploads" {
        return upload(n - 3, last);
    }
    if second == "blobs" && last == "uploads" {
        return upload(n - 2, "");
    }
    if second == "blobs" && is_digest(last) {
        let mut c = Call::new(Endpoint::Blobs, method, name(&segs[..n - 2])?);
        c.reference = last.to_string();
        return Some(c);
    }
    None
}

/// A token-server request: a `scope=repository:<name>:<actions>` query.
fn token(method: &str, query: &str) -> Option<Call> {
    if !query.contains("scope=") {
        return None;
    }
    for scope in query_params(query, "scope") {
        // The form encoding of a space separating several scopes.
        for s in scope.split([' ', '+']) {
            let Some((kind, rest)) = s.split_once(':') else {
                continue;
            };
            if kind != "repository" && !kind.starts_with("repository(") {
                continue;
            }
            let (repo, actions) = rest.rsplit_once(':').unwrap_or((rest, ""));
            let segs: Vec<&str> = repo.split('/').take(MAX_SEGMENTS).collect();
            let Some(repository) = name(&segs) else {
                continue;
            };
            let mut c = Call::new(Endpoint::Token, method, repository);
            c.actions = actions.chars().take(128).collect();
            c.service = query_param(query, "service")
                .unwrap_or_default()
                .chars()
                .take(256)
                .collect();
            return Some(c);
        }
    }
    None
}

fn push(attrs: &mut Attributes, k: &str, v: &str) {
    if !v.is_empty() && !attrs.iter().any(|(a, _)| a == k) {
        attrs.push((k.into(), v.into()));
    }
}

/// The object kind a media type names: `index` or `manifest`.
pub fn kind_of(media_type: &str) -> Option<&'static str> {
    let mt = media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match mt.as_str() {
        "application/vnd.oci.image.index.v1+json"
        | "application/vnd.docker.distribution.manifest.list.v2+json" => Some("index"),
        "application/vnd.oci.image.manifest.v1+json"
        | "application/vnd.oci.artifact.manifest.v1+json"
        | "application/vnd.docker.distribution.manifest.v2+json"
        | "application/vnd.docker.distribution.manifest.v1+json"
        | "application/vnd.docker.distribution.manifest.v1+prettyjws" => Some("manifest"),
        _ => None,
    }
}

/// Digests seen in manifests on this connection, with the kind of blob they are
/// (`config`, `layer`), so a later blob request can say which it fetches.
#[derive(Debug, Default)]
pub struct Known {
    blobs: std::collections::VecDeque<(String, &'static str)>,
}

impl Known {
    /// Most digests remembered per connection.
    const MAX: usize = 256;

    fn add(&mut self, digest: &str, kind: &'static str) {
        if self.get(digest).is_some() {
            return;
        }
        if self.blobs.len() >= Self::MAX {
            self.blobs.pop_front();
        }
        self.blobs.push_back((digest.to_string(), kind));
    }

    fn get(&self, digest: &str) -> Option<&'static str> {
        self.blobs
            .iter()
            .find(|(d, _)| d == digest)
            .map(|(_, k)| *k)
    }
}

/// The request's attributes.
pub fn request_attrs(call: &Call, f: &Fields, known: &Known, attrs: &mut Attributes) {
    push(attrs, "repository", &call.repository);
    push(attrs, "reference", &call.reference);
    match call.endpoint {
        Endpoint::Blobs => push(
            attrs,
            "object",
            known.get(&call.reference).unwrap_or("blob"),
        ),
        Endpoint::BlobUpload => {
            push(attrs, "object", "upload");
            push(attrs, "upload_uuid", &call.upload_uuid);
            push(attrs, "mount_from", &call.mount_from);
        }
        Endpoint::Manifests if call.method == "PUT" => {
            push(attrs, "media_type", &f.content_type);
            push(
                attrs,
                "object",
                kind_of(&f.content_type).unwrap_or_default(),
            );
        }
        Endpoint::Token => {
            push(attrs, "actions", &call.actions);
            push(attrs, "service", &call.service);
        }
        _ => {}
    }
    if matches!(call.method.as_str(), "PUT" | "PATCH" | "POST")
        && let Some(n) = f.content_length.filter(|&n| n > 0)
    {
        push(attrs, "bytes", &n.to_string());
    }
}

/// The parameters of a `WWW-Authenticate` challenge: (scheme, [(name, value)]).
pub fn challenge(h: &str) -> (String, Vec<(String, String)>) {
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    let mut params = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() && params.len() < 16 {
        while i < b.len() && (b[i] == b' ' || b[i] == b',') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let key = rest[ks..i].trim().to_ascii_lowercase();
        if i >= b.len() || b[i] != b'=' {
            continue;
        }
        i += 1;
        let value = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut v = Vec::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                v.push(b[i]);
                i += 1;
            }
            i += 1;
            String::from_utf8_lossy(&v).into_owned()
        } else {
            let vs = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            rest[vs..i].trim().to_string()
        };
        if !key.is_empty() {
            params.push((key, value));
        }
    }
    (scheme.to_string(), params)
}

/// The response's attributes; returns a `response_exception` to use instead of the
/// reason phrase (the challenge's `error` on a 401).
pub fn response_attrs(
    call: &Call,
    code: u16,
    f: &Fields,
    attrs: &mut Attributes,
) -> Option<String> {
    push(attrs, "docker_content_digest", &f.docker_content_digest);
    let ok = (200..300).contains(&code);
    if ok && call.is_read() {
        match call.endpoint {
            Endpoint::Manifests => {
                if kind_of(&f.content_type).is_some() {
                    push(attrs, "media_type", &f.content_type);
                }
                push(
                    attrs,
                    "object",
                    kind_of(&f.content_type).unwrap_or_default(),
                );
            }
            Endpoint::Blobs => push(attrs, "media_type", &f.content_type),
            _ => {}
        }
        if matches!(call.endpoint, Endpoint::Manifests | Endpoint::Blobs)
            && let Some(n) = f.content_length
        {
            push(attrs, "bytes", &n.to_string());
        }
    }
    if call.endpoint == Endpoint::BlobUpload && call.upload_uuid.is_empty() {
        push(attrs, "upload_uuid", &f.docker_upload_uuid);
    }
    if call.endpoint == Endpoint::Ping {
        push(attrs, "api_version", &f.distribution_api_version);
    }
    if f.www_authenticate.is_empty() {
        return None;
    }
    let (scheme, params) = challenge(&f.www_authenticate);
    push(attrs, "auth_scheme", &scheme);
    let mut error = None;
    for (k, v) in params {
        match k.as_str() {
            "realm" => push(attrs, "auth_realm", &v),
            "service" => push(attrs, "auth_service", &v),
            "scope" => push(attrs, "auth_scope", &v),
            "error" if !v.is_empty() => error = Some(v),
            _ => {}
        }
    }
    if code == 401 { error } else { None }
}

/// What a manifest or index body says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// `mediaType` of the document.
    pub media_type: String,
    /// `index` or `manifest`.
    pub kind: Option<&'static str>,
    /// Image manifest: its config's digest.
    pub config_digest: String,
    /// Image manifest: number of layers.
    pub layer_count: Option<u64>,
    /// Image manifest: sum of the layers' sizes.
    pub layers_size: Option<u64>,
    /// Index: number of manifests.
    pub manifest_count: Option<u64>,
    /// Index: `os/architecture[/variant]` of each manifest, comma-separated (capped).
    pub platforms: String,
    /// An error document (`{"errors":[{"code":...}]}`): the first code.
    pub error_code: String,
    /// Image manifest: layer digests (capped), to name later blob requests.
    pub blobs: Vec<String>,
}

/// Nesting depth of a JSON text stays within `max` (strings skipped).
fn depth_ok(b: &[u8], max: usize) -> bool {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &c in b {
        if in_str {
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or_default()
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Summarises a manifest, index or error JSON body (at most [`MAX_BODY`] bytes, nesting
/// at most 32); `None` when it is not such a document.
pub fn summarize(body: &[u8]) -> Option<Summary> {
    if body.len() > MAX_BODY || !depth_ok(body, MAX_DEPTH) {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    let mut s = Summary {
        media_type: cut(str_of(&v, "mediaType"), 128),
        ..Summary::default()
    };
    if let Some(errors) = obj.get("errors").and_then(Value::as_array) {
        s.error_code = cut(
            errors
                .first()
                .map(|e| str_of(e, "code"))
                .unwrap_or_default(),
            64,
        );
        return Some(s);
    }
    let manifests = obj.get("manifests").and_then(Value::as_array);
    let layers = obj
        .get("layers")
        .or_else(|| obj.get("fsLayers"))
        .and_then(Value::as_array);
    s.kind = kind_of(&s.media_type).or(if manifests.is_some() {
        Some("index")
    } else if layers.is_some() || obj.contains_key("config") {
        Some("manifest")
    } else {
        None
    });
    match s.kind {
        Some("index") => {
            let m = manifests.map(Vec::as_slice).unwrap_or_default();
            s.manifest_count = Some(m.len() as u64);
            let mut p = Vec::new();
            for d in m.iter().take(MAX_PLATFORMS) {
                let Some(pl) = d.get("platform") else {
                    continue;
                };
                let mut t = format!(
                    "{}/{}",
                    cut(str_of(pl, "os"), 32),
                    cut(str_of(pl, "architecture"), 32)
                );
                let variant = str_of(pl, "variant");
                if !variant.is_empty() {
                    t.push('/');
                    t.push_str(&cut(variant, 32));
                }
                p.push(t);
            }
            s.platforms = p.join(",");
        }
        Some(_) => {
            if let Some(c) = obj.get("config") {
                s.config_digest = cut(str_of(c, "digest"), 160);
            }
            let l = layers.map(Vec::as_slice).unwrap_or_default();
            s.layer_count = Some(l.len() as u64);
            let mut sizes = l
                .iter()
                .filter_map(|d| d.get("size").and_then(Value::as_u64));
            s.layers_size = sizes.try_fold(0u64, u64::checked_add);
            for d in l.iter().take(MAX_BLOBS) {
                // Schema 1 manifests name a layer by `blobSum`.
                let dg = match str_of(d, "digest") {
                    "" => str_of(d, "blobSum"),
                    dg => dg,
                };
                if is_digest(dg) {
                    s.blobs.push(dg.to_string());
                }
            }
        }
        None => return None,
    }
    Some(s)
}

/// Adds what a captured manifest body says to a message's attributes (`ok`: a 2xx
/// response or a request); remembers its blobs in `known`.
pub fn body_attrs(body: &[u8], ok: bool, known: &mut Known, attrs: &mut Attributes) {
    let Some(s) = summarize(body) else {
        return;
    };
    if !ok {
        push(attrs, "error_code", &s.error_code);
        return;
    }
    push(attrs, "media_type", &s.media_type);
    push(attrs, "object", s.kind.unwrap_or_default());
    push(attrs, "config_digest", &s.config_digest);
    if let Some(n) = s.layer_count {
        push(attrs, "layer_count", &n.to_string());
    }
    if let Some(n) = s.layers_size {
        push(attrs, "layers_size", &n.to_string());
    }
    if let Some(n) = s.manifest_count {
        push(attrs, "manifest_count", &n.to_string());
    }
    push(attrs, "platforms", &s.platforms);
    if is_digest(&s.config_digest) {
        known.add(&s.config_digest, "config");
    }
    for b in &s.blobs {
        known.add(b, "layer");
    }
}

/// A body being kept (manifests only), bounded by [`MAX_BODY`].
#[derive(Debug, Default)]
pub struct Capture {
    buf: Vec<u8>,
    /// Grew past the limit: dropped.
    over: bool,
}

impl Capture {
    /// Appends body bytes (data only, without chunk framing).
    pub fn extend(&mut self, b: &[u8]) {
        if self.over {
            return;
        }
        if self.buf.len() + b.len() > MAX_BODY {
            self.over = true;
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(b);
        }
    }

    /// The body, unless it grew too large.
    pub fn body(&self) -> Option<&[u8]> {
        (!self.over).then_some(&self.buf[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocols::http::oci_capture::EXCHANGES;
    use crate::testutil::{attr, segmentation_invariant};

    const D1: &str = "sha256:9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492";

    /// The body of a captured message (after the empty line).
    fn body(msg: &[u8]) -> &[u8] {
        let i = memchr::memmem::find(msg, b"\r\n\r\n").expect("a head") + 4;
        &msg[i..]
    }

    fn exchange(what: &str) -> (&'static [u8], &'static [u8]) {
        let (_, q, r) = EXCHANGES
            .iter()
            .find(|(w, _, _)| w.starts_with(what))
            .expect("exchange");
        (q, r)
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("sha256%3Aab"), "sha256:ab");
        assert_eq!(percent_decode("a%2Fb%"), "a/b%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn paths_are_classified() {
        let c = classify("GET", "/v2/library/nginx/manifests/1.25-alpine").unwrap();
        assert_eq!(
            (c.endpoint, c.repository.as_str(), c.reference.as_str()),
            (Endpoint::Manifests, "library/nginx", "1.25-alpine")
        );
        assert_eq!(c.resource(), "library/nginx:1.25-alpine");
        let c = classify("HEAD", &format!("/v2/a/b/c/manifests/{D1}")).unwrap();
        assert_eq!(c.repository, "a/b/c");
        assert_eq!(c.resource(), format!("a/b/c@{D1}"));
        let c = classify("GET", &format!("/v2/a/b/c/blobs/{D1}")).unwrap();
        assert_eq!(
            (c.endpoint, c.resource()),
            (Endpoint::Blobs, format!("a/b/c@{D1}").into())
        );
        // Percent-encoded colon, absolute-form target.
        let c = classify("GET", "http://reg:5000/v2/x/blobs/sha256%3Aabcdef").unwrap();
        assert_eq!(c.reference, "sha256:abcdef");
        // Uploads: start, chunk, finish with ?digest=, mount.
        let c = classify("POST", "/v2/my-org/app/blobs/uploads/").unwrap();
        assert_eq!(
            (c.endpoint, c.resource(), c.upload_uuid.as_str()),
            (Endpoint::BlobUpload, "my-org/app".into(), "")
        );
        let c = classify("POST", "/v2/my-org/app/blobs/uploads").unwrap();
        assert_eq!(c.endpoint, Endpoint::BlobUpload);
        let c = classify(
            "PATCH",
            "/v2/a/blobs/uploads/3f2504e0-4f89-11d3-9a0c-0305e82c3301?_state=xyz%3D%3D",
        )
        .unwrap();
        assert_eq!(c.upload_uuid, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        assert_eq!(c.reference, "");
        let c = classify(
            "PUT",
            "/v2/a/blobs/uploads/u1?_state=s&digest=sha256%3A9b4586b9783aa2eff1a652fd3aefe0ae421a8fe5b71fb9debd299555f0560492",
        )
        .unwrap();
        assert_eq!((c.upload_uuid.as_str(), c.reference.as_str()), ("u1", D1));
        let c = classify(
            "POST",
            &format!("/v2/b/blobs/uploads/?mount={D1}&from=lib%2Fa"),
        )
        .unwrap();
        assert_eq!((c.reference.as_str(), c.mount_from.as_str()), (D1, "lib/a"));
        // A repository whose name has a "blobs" or "manifests" component.
        let c = classify("GET", "/v2/x/blobs/y/manifests/latest").unwrap();
        assert_eq!(
            (c.endpoint, c.repository.as_str()),
            (Endpoint::Manifests, "x/blobs/y")
        );
        let c = classify("GET", "/v2/x/manifests/tags/list").unwrap();
        assert_eq!(
            (c.endpoint, c.repository.as_str()),
            (Endpoint::Tags, "x/manifests")
        );
        // Tags, catalog, ping, referrers.
        let c = classify("GET", "/v2/library/nginx/tags/list?n=10&last=b").unwrap();
        assert_eq!(
            (c.endpoint, c.resource()),
            (Endpoint::Tags, "library/nginx".into())
        );
        let c = classify("GET", "/v2/_catalog?n=100").unwrap();
        assert_eq!(
            (c.endpoint, c.resource()),
            (Endpoint::Catalog, "_catalog".into())
        );
        assert_eq!(classify("GET", "/v2/").unwrap().endpoint, Endpoint::Ping);
        assert_eq!(classify("GET", "/v2").unwrap().endpoint, Endpoint::Ping);
        let c = classify("GET", &format!("/v2/a/referrers/{D1}?artifactType=x")).unwrap();
        assert_eq!(c.endpoint, Endpoint::Referrers);
        // Token requests.
        let c = classify(
            "GET",
            "/token?scope=repository%3Alibrary%2Fnginx%3Apull%2Cpush&service=registry.docker.io",
        )
        .unwrap();
        assert_eq!(
            (
                c.endpoint,
                c.resource(),
                c.actions.as_str(),
                c.service.as_str()
            ),
            (
                Endpoint::Token,
                "library/nginx".into(),
                "pull,push",
                "registry.docker.io"
            )
        );
        let c = classify("GET", "/auth?service=s&scope=repository:a/b:pull").unwrap();
        assert_eq!((c.repository.as_str(), c.actions.as_str()), ("a/b", "pull"));
        // Not registry calls.
        for (m, t) in [
            ("GET", "/v2/Library/nginx/manifests/latest"),
            ("GET", "/v2/a/blobs/notadigest"),
            ("GET", "/v2/a//manifests/x"),
            ("GET", "/v2/a/manifests/bad:tag:x"),
            ("GET", "/v2/api/users/42"),
            ("GET", "/v2/a/manifests"),
            ("GET", "/v3/a/manifests/x"),
            ("GET", "/api/v2/a/manifests/x"),
            ("GET", "/v2x/a/manifests/x"),
            ("GET", "/token?scope=registry:catalog:*"),
            ("GET", "/search?q=scope"),
            ("GET", "/v2/a-/tags/list"),
            ("GET", "/v2/a..b/tags/list"),
        ] {
            assert_eq!(classify(m, t), None, "{t}");
        }
        assert!(is_name_component("a__b-c.d---e"));
        assert!(!is_name_component("a___b"));
        assert!(!is_name_component("a._b"));
    }

    #[test]
    fn real_manifest_and_index_bodies() {
        let (_, r) = exchange("GET the index");
        let s = summarize(body(r)).unwrap();
        assert_eq!(s.kind, Some("index"));
        assert_eq!(s.media_type, "application/vnd.oci.image.index.v1+json");
        assert_eq!(s.platforms, "linux/amd64,linux/arm64/v8");
        assert_eq!(s.manifest_count, Some(2));
        let (_, r) = exchange("GET its linux/amd64 manifest");
        let s = summarize(body(r)).unwrap();
        assert_eq!(s.kind, Some("manifest"));
        assert_eq!(
            s.config_digest,
            "sha256:8847b1d16b5e2b771dc3f7398876f79f9191093db4561b37577a11aa77bb8aa1"
        );
        assert_eq!((s.layer_count, s.layers_size), (Some(1), Some(146)));
        assert_eq!(
            s.blobs,
            ["sha256:31f7b27d663be10b7171c0b9e48dd29150df4b182b86cf33fa745dc739adba86"]
        );
        let (q, _) = exchange("PUT the image manifest");
        let s = summarize(body(q)).unwrap();
        assert_eq!((s.layer_count, s.layers_size), (Some(1), Some(151)));
        let (_, r) = exchange("GET a missing tag");
        assert_eq!(summarize(body(r)).unwrap().error_code, "MANIFEST_UNKNOWN");
        // Docker schema 2 list and schema 1 without a mediaType field.
        let list = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[{"digest":"sha256:aa","size":1,"platform":{"architecture":"arm","os":"linux","variant":"v7"}},{"digest":"sha256:bb","size":1}]}"#;
        let s = summarize(list).unwrap();
        assert_eq!(
            (s.kind, s.platforms.as_str()),
            (Some("index"), "linux/arm/v7")
        );
        let v1 = br#"{"schemaVersion":1,"name":"a","tag":"t","fsLayers":[{"blobSum":"sha256:aa"},{"blobSum":"sha256:bb"}]}"#;
        let s = summarize(v1).unwrap();
        assert_eq!(
            (s.kind, s.layer_count, s.layers_size),
            (Some("manifest"), Some(2), Some(0))
        );
        assert_eq!(summarize(b"{}"), None);
        assert_eq!(summarize(b"[1,2]"), None);
        assert_eq!(
            summarize(br#"{"layers":[{"size":18446744073709551615},{"size":1}]}"#)
                .unwrap()
                .layers_size,
            None
        );
    }

    #[test]
    fn summariser_never_panics_on_truncated_or_mutated_json() {
        let mut docs: Vec<Vec<u8>> = EXCHANGES
            .iter()
            .flat_map(|(_, q, r)| [body(q).to_vec(), body(r).to_vec()])
            .filter(|b| !b.is_empty())
            .collect();
        // Deep nesting: refused before serde_json sees it.
        let deep = [vec![b'['; 100_000], vec![b']'; 100_000]].concat();
        assert_eq!(summarize(&deep), None);
        let nested = |depth: usize| {
            let mut d = br#"{"manifests":"#.to_vec();
            d.extend(std::iter::repeat_n(b'[', depth - 1));
            d.extend(std::iter::repeat_n(b']', depth - 1));
            d.push(b'}');
            d
        };
        assert!(summarize(&nested(32)).is_some());
        assert!(summarize(&nested(33)).is_none());
        assert!(summarize(&vec![b'{'; MAX_BODY + 1]).is_none());
        docs.push(deep);
        let mut rnd = wirehouse_testkit::xorshift();
        for d in &docs {
            for n in 0..=d.len().min(2000) {
                let _ = summarize(&d[..n]);
            }
            for _ in 0..300 {
                let mut m = d.clone();
                for _ in 0..1 + rnd() % 4 {
                    let i = (rnd() as usize) % m.len();
                    m[i] = b"{}[]\",:0-9e\\ \x00\xff!"[(rnd() % 16) as usize];
                }
                let _ = summarize(&m);
                let mut known = Known::default();
                let mut attrs = Vec::new();
                body_attrs(&m, true, &mut known, &mut attrs);
            }
        }
        for t in [
            "",
            "/v2/%",
            "/v2/%%%/manifests/%3",
            "?scope=",
            "?scope=repository:",
            "?scope=repository::",
        ] {
            let _ = classify("GET", t);
        }
        let _ = challenge("Bearer realm=\"unterminated");
        let _ = challenge("Bearer ,,=,a=\"\\");
    }

    /// Every exchange of the capture, replayed on one connection.
    fn conversation() -> Vec<(bool, &'static [u8])> {
        EXCHANGES
            .iter()
            .flat_map(|(_, q, r)| [(true, *q), (false, *r)])
            .collect()
    }

    #[test]
    fn a_real_push_and_pull_is_segmentation_invariant() {
        let rows = segmentation_invariant(&conversation(), 5000);
        assert_eq!(rows.len(), EXCHANGES.len());
        assert!(rows.iter().all(|r| r.l7_protocol == "oci"), "{rows:#?}");
        assert!(rows.iter().all(|r| r.request_domain == "10.99.0.1"));
        let got: Vec<_> = rows
            .iter()
            .map(|r| {
                (
                    r.request_type.as_str(),
                    r.endpoint.as_str(),
                    r.response_code,
                    attr(r, "object").unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("GET", "ping", Some(200), ""),
                ("GET", "manifests", Some(200), "index"),
                ("GET", "manifests", Some(200), "manifest"),
                ("GET", "blobs", Some(200), "layer"),
                ("GET", "blobs", Some(200), "config"),
                ("POST", "blob_upload", Some(202), "upload"),
                ("PATCH", "blob_upload", Some(202), "upload"),
                ("PUT", "blob_upload", Some(201), "upload"),
                ("PUT", "manifests", Some(201), "manifest"),
                ("PUT", "manifests", Some(201), "index"),
                ("POST", "blob_upload", Some(201), "upload"),
                // Named a layer by the manifest PUT earlier on this connection.
                ("HEAD", "blobs", Some(200), "layer"),
                ("GET", "tags", Some(200), ""),
                ("GET", "catalog", Some(200), ""),
                ("DELETE", "manifests", Some(202), ""),
                ("GET", "manifests", Some(404), ""),
            ]
        );
        let r = &rows[0];
        assert_eq!(
            (r.request_resource.as_str(), attr(r, "api_version")),
            ("/v2/", Some("registry/2.0"))
        );
        let r = &rows[1];
        assert_eq!(r.request_resource, "wirehouse/demo:multi");
        assert_eq!(attr(r, "platforms"), Some("linux/amd64,linux/arm64/v8"));
        assert_eq!(
            attr(r, "media_type"),
            Some("application/vnd.oci.image.index.v1+json")
        );
        assert_eq!(attr(r, "bytes"), Some("670"));
        assert_eq!(
            attr(r, "docker_content_digest"),
            Some("sha256:942e34be915b6148e7ffc8897ba46172124764a341c2fb1dfcfc496b2e7c510f")
        );
        let r = &rows[2];
        assert_eq!(
            r.request_resource,
            "wirehouse/demo@sha256:e453aa3c1580c6ad64ce684e1fcc2e44cbacff6004af7dd72eb5499044de2c1d"
        );
        assert_eq!(
            attr(r, "config_digest"),
            Some("sha256:8847b1d16b5e2b771dc3f7398876f79f9191093db4561b37577a11aa77bb8aa1")
        );
        assert_eq!(
            (attr(r, "layer_count"), attr(r, "layers_size")),
            (Some("1"), Some("146"))
        );
        assert_eq!(attr(&rows[3], "bytes"), Some("146"));
        assert_eq!(attr(&rows[4], "bytes"), Some("215"));
        assert_eq!(
            attr(&rows[3], "media_type"),
            Some("application/octet-stream")
        );
        let r = &rows[6];
        assert_eq!(r.request_resource, "wirehouse/demo");
        assert_eq!(attr(r, "bytes"), Some("151"));
        assert_eq!(
            attr(r, "upload_uuid"),
            Some("a6a6a9f4-45fc-49eb-b24f-8199eb12f905")
        );
        assert_eq!(
            attr(&rows[5], "upload_uuid"),
            Some("a6a6a9f4-45fc-49eb-b24f-8199eb12f905")
        );
        let r = &rows[7];
        assert_eq!(
            (attr(r, "reference"), attr(r, "docker_content_digest")),
            (Some(D1), Some(D1))
        );
        let r = &rows[8];
        assert_eq!(r.request_resource, "wirehouse/demo:1.0");
        assert_eq!(
            attr(r, "media_type"),
            Some("application/vnd.oci.image.manifest.v1+json")
        );
        assert_eq!(
            (
                attr(r, "layer_count"),
                attr(r, "layers_size"),
                attr(r, "bytes")
            ),
            (Some("1"), Some("151"), Some("476"))
        );
        assert_eq!(
            attr(r, "docker_content_digest"),
            Some("sha256:05d0d425270e0f7dc2f6c24ff2e4d979a47ab9f2eccebdf0f67135af4e29f3b9")
        );
        assert_eq!(
            attr(&rows[9], "platforms"),
            Some("linux/amd64,linux/arm64/v8")
        );
        let r = &rows[10];
        assert_eq!(r.request_resource, "wirehouse/scratch");
        assert_eq!(
            (attr(r, "reference"), attr(r, "mount_from")),
            (Some(D1), Some("wirehouse/demo"))
        );
        assert_eq!(rows[12].request_resource, "wirehouse/demo");
        assert_eq!(rows[13].request_resource, "_catalog");
        assert_eq!(attr(&rows[13], "repository"), None);
        let r = &rows[15];
        assert_eq!(
            (r.response_status, r.response_exception.as_str()),
            ("client_error", "Not Found")
        );
        assert_eq!(attr(r, "error_code"), Some("MANIFEST_UNKNOWN"));
        assert_eq!(attr(r, "object"), None);
    }

    #[test]
    fn bearer_token_dance() {
        let conv: Vec<(bool, &[u8])> = vec![
            (true, b"GET /v2/ HTTP/1.1\r\nHost: registry.example\r\n\r\n"),
            (
                false,
                b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\
Docker-Distribution-Api-Version: registry/2.0\r\n\
Www-Authenticate: Bearer realm=\"http://auth.example/token\",service=\"registry.example\"\r\n\
Content-Length: 87\r\n\r\n\
{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\",\"detail\":null}]}\n",
            ),
            (
                true,
                b"GET /v2/library/nginx/manifests/latest HTTP/1.1\r\nHost: registry.example\r\n\r\n",
            ),
            (
                false,
                b"HTTP/1.1 401 Unauthorized\r\n\
WWW-Authenticate: Bearer realm=\"http://auth.example/token\",service=\"registry.example\",scope=\"repository:library/nginx:pull\",error=\"invalid_token\"\r\n\
Content-Length: 0\r\n\r\n",
            ),
            (
                true,
                b"GET /token?scope=repository%3Alibrary%2Fnginx%3Apull&service=registry.example HTTP/1.1\r\nHost: auth.example\r\n\r\n",
            ),
            (
                false,
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 19\r\n\r\n{\"token\":\"secret\"}\n",
            ),
        ];
        let rows = segmentation_invariant(&conv, 80);
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.l7_protocol == "oci"));
        let r = &rows[0];
        assert_eq!(
            (r.response_status, r.response_exception.as_str()),
            ("client_error", "Unauthorized")
        );
        assert_eq!(attr(r, "auth_scheme"), Some("Bearer"));
        assert_eq!(attr(r, "auth_realm"), Some("http://auth.example/token"));
        assert_eq!(attr(r, "auth_service"), Some("registry.example"));
        let r = &rows[1];
        assert_eq!(r.response_exception, "invalid_token");
        assert_eq!(attr(r, "auth_scope"), Some("repository:library/nginx:pull"));
        let r = &rows[2];
        assert_eq!(
            (r.endpoint.as_str(), r.request_resource.as_str()),
            ("token", "library/nginx")
        );
        assert_eq!(r.request_domain, "auth.example");
        assert_eq!(
            (attr(r, "actions"), attr(r, "service")),
            (Some("pull"), Some("registry.example"))
        );
        // The token itself is never kept.
        assert!(r.attributes.iter().all(|(_, v)| !v.contains("secret")));
    }

    #[test]
    fn chunked_large_and_damaged_manifests() {
        let (_, r) = exchange("GET its linux/amd64 manifest");
        let doc = body(r);
        let (a, b) = doc.split_at(100);
        let mut chunked = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for part in [a, b] {
            chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            chunked.extend_from_slice(part);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        let big_len = MAX_BODY + 10;
        let mut big = format!("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {big_len}\r\n\r\n").into_bytes();
        big.extend(std::iter::repeat_n(b' ', big_len));
        let get = b"GET /v2/a/manifests/t HTTP/1.1\r\nHost: r\r\n\r\n";
        let conv: Vec<(bool, &[u8])> = vec![
            (true, get),
            (false, &chunked),
            (true, get),
            (false, &big),
            (true, b"GET /v2/api/users/42 HTTP/1.1\r\nHost: r\r\n\r\n"),
            (false, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ];
        let rows = segmentation_invariant(&conv, 5000);
        assert_eq!(rows.len(), 3);
        assert_eq!(attr(&rows[0], "layer_count"), Some("1"));
        assert_eq!(attr(&rows[0], "object"), Some("manifest"));
        assert_eq!(attr(&rows[1], "bytes"), Some(big_len.to_string().as_str()));
        assert_eq!(attr(&rows[1], "layer_count"), None);
        assert_eq!(rows[1].response_bytes, (big.len()) as u64);
        // Other /v2/ paths stay plain HTTP, as before.
        assert_eq!(
            (rows[2].l7_protocol, rows[2].endpoint.as_str()),
            ("http", "/v2/api/users/{id}")
        );
        // A body cut by a lost segment is not summarised.
        let mut cut = r.to_vec();
        let at = cut.len() - 40;
        cut.truncate(at);
        let rows = crate::testutil::tcp_sessions(
            &[(true, get), (false, &cut)],
            wirehouse_flow::harness::Split::Whole,
            5000,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(attr(&rows[0], "layer_count"), None);
        assert_eq!(attr(&rows[0], "incomplete"), Some("1"));
    }
}
