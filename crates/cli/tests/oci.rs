//! End to end on real registry traffic: `testdata/registry-push-pull.pcap` (skopeo 1.9.3
//! pushing and pulling through docker-registry 2.8.2, recorded by
//! `scripts/make-registry-capture.sh`) converted by the CLI. The expected repositories,
//! references, digests, sizes, media types and platforms come from the OCI layout the
//! script built and pushed (`testdata/registry-layout/`), and the number of registry
//! calls from tshark when it is installed — never from wirehouse itself.
//!
//! `WIREHOUSE_OCI_DUMP=FILE.pcap cargo test -p wirehouse --test oci -- --ignored --nocapture`
//! prints the registry rows of any capture (used to check a held-out recording).

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const REPO: &str = "wirehouse/demo";
const COPY: &str = "wirehouse/scratch";

fn convert_rows(pcap: &Path, name: &str) -> Vec<Row> {
    let dir = out_dir(name);
    let o = convert(&[pcap], &dir, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = l7_rows(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    rows
}

/// One descriptor of the OCI layout.
#[derive(Debug, Clone)]
struct Desc {
    media_type: String,
    digest: String,
    size: u64,
}

fn desc(v: &Value) -> Desc {
    Desc {
        media_type: v["mediaType"].as_str().unwrap().to_string(),
        digest: v["digest"].as_str().unwrap().to_string(),
        size: v["size"].as_u64().unwrap(),
    }
}

/// The image the script pushed, read back from its OCI layout.
struct Layout {
    root: PathBuf,
    /// Tag → top descriptor (`1.0` a manifest, `multi` an index).
    tags: BTreeMap<String, Desc>,
}

impl Layout {
    fn open() -> Layout {
        let root = wirehouse_testkit::repo_root().join("testdata/registry-layout");
        let index: Value =
            serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
        let tags = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let tag = m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap()
                    .to_string();
                (tag, desc(m))
            })
            .collect();
        Layout { root, tags }
    }

    fn blob(&self, digest: &str) -> Value {
        let hex = digest.strip_prefix("sha256:").unwrap();
        let p = self.root.join("blobs/sha256").join(hex);
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }

    /// (config, layers) of an image manifest.
    fn image(&self, manifest: &str) -> (Desc, Vec<Desc>) {
        let m = self.blob(manifest);
        let layers = m["layers"].as_array().unwrap().iter().map(desc).collect();
        (desc(&m["config"]), layers)
    }

    /// The child manifests of an index, with their `os/arch[/variant]`.
    fn children(&self, index: &str) -> Vec<(Desc, String)> {
        let i = self.blob(index);
        i["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let p = &m["platform"];
                let mut plat = format!(
                    "{}/{}",
                    p["os"].as_str().unwrap(),
                    p["architecture"].as_str().unwrap()
                );
                if let Some(v) = p["variant"].as_str() {
                    plat = format!("{plat}/{v}");
                }
                (desc(m), plat)
            })
            .collect()
    }
}

fn find<'a>(rows: &'a [Row], method: &str, endpoint: &str, resource: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.request_type == method && r.endpoint == endpoint)
        .filter(|r| r.request_resource == resource)
        .collect()
}

fn one<'a>(rows: &'a [Row], method: &str, endpoint: &str, resource: &str) -> &'a Row {
    let f = find(rows, method, endpoint, resource);
    assert!(
        !f.is_empty(),
        "no {method} {endpoint} {resource} in {:#?}",
        rows
    );
    f[0]
}

/// Manifest attributes the layout says an image manifest must show.
fn check_manifest(r: &Row, layout: &Layout, d: &Desc) {
    let (config, layers) = layout.image(&d.digest);
    assert_eq!(r.attr("object"), Some("manifest"), "{r:#?}");
    assert_eq!(r.attr("media_type"), Some(d.media_type.as_str()), "{r:#?}");
    assert_eq!(r.attr("bytes"), Some(d.size.to_string().as_str()), "{r:#?}");
    assert_eq!(
        r.attr("config_digest"),
        Some(config.digest.as_str()),
        "{r:#?}"
    );
    assert_eq!(
        r.attr("layer_count"),
        Some(layers.len().to_string().as_str())
    );
    let size: u64 = layers.iter().map(|l| l.size).sum();
    assert_eq!(r.attr("layers_size"), Some(size.to_string().as_str()));
}

#[test]
fn registry_push_and_pull_decode_as_oci_rows() {
    let pcap = wirehouse_testkit::repo_root().join("testdata/registry-push-pull.pcap");
    let all = convert_rows(&pcap, "oci");
    let rows: Vec<Row> = all
        .iter()
        .filter(|r| r.l7_protocol == "oci")
        .cloned()
        .collect();
    let layout = Layout::open();
    let single = layout.tags["1.0"].clone();
    let index = layout.tags["multi"].clone();
    let children = layout.children(&index.digest);
    assert_eq!(children.len(), 2);

    // Every registry call is an oci row on the registry's address; nothing else is.
    assert!(
        rows.iter()
            .all(|r| r.request_domain == "10.99.0.1" && r.server_port == 5000)
    );
    assert!(
        all.iter()
            .filter(|r| r.l7_protocol == "http")
            .all(|r| !r.request_resource.starts_with("/v2")),
        "{all:#?}"
    );
    if wirehouse_testkit::have_tool("tshark") {
        let uris = wirehouse_testkit::run(
            std::process::Command::new("tshark")
                .args(["-n", "-r"])
                .arg(&pcap)
                .args([
                    "-Y",
                    "http.request",
                    "-T",
                    "fields",
                    "-e",
                    "http.request.uri",
                ]),
        );
        let v2 = uris.lines().filter(|u| u.starts_with("/v2")).count();
        assert_eq!(rows.len(), v2, "registry calls per tshark");
    }

    // Push of 1.0: the manifest PUT by tag, its blobs uploaded with ?digest=.
    let put = one(&rows, "PUT", "manifests", &format!("{REPO}:1.0"));
    check_manifest(put, &layout, &single);
    assert_eq!(
        put.attr("docker_content_digest"),
        Some(single.digest.as_str())
    );
    assert_eq!(
        (put.response_code, put.attr("reference")),
        (Some(201), Some("1.0"))
    );
    let (config, layers) = layout.image(&single.digest);
    for b in std::iter::once(&config).chain(&layers) {
        let done: Vec<_> = rows
            .iter()
            .filter(|r| r.request_type == "PUT" && r.endpoint == "blob_upload")
            .filter(|r| r.request_resource == REPO)
            .filter(|r| r.attr("reference") == Some(b.digest.as_str()))
            .collect();
        assert_eq!(done.len(), 1, "upload of {}", b.digest);
        assert_eq!(done[0].request_resource, REPO);
        assert_eq!(done[0].attr("object"), Some("upload"));
        assert_eq!(
            done[0].attr("docker_content_digest"),
            Some(b.digest.as_str())
        );
        // The bytes went in one PATCH of exactly the blob's size.
        assert!(
            rows.iter().any(|r| r.request_type == "PATCH"
                && r.attr("upload_uuid") == done[0].attr("upload_uuid")
                && r.attr("bytes") == Some(b.size.to_string().as_str())),
            "PATCH of {}",
            b.digest
        );
    }

    // Push of the index: each platform's manifest by digest, then the index by tag.
    for (d, _) in &children {
        let r = one(&rows, "PUT", "manifests", &format!("{REPO}@{}", d.digest));
        check_manifest(r, &layout, d);
    }
    let platforms: Vec<&str> = children.iter().map(|(_, p)| p.as_str()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    let put = one(&rows, "PUT", "manifests", &format!("{REPO}:multi"));
    assert_eq!(put.attr("object"), Some("index"));
    assert_eq!(put.attr("media_type"), Some(index.media_type.as_str()));
    assert_eq!(put.attr("platforms"), Some(platforms.join(",").as_str()));
    assert_eq!(
        put.attr("docker_content_digest"),
        Some(index.digest.as_str())
    );

    // Pulls: manifests by tag and digest, every blob by digest with its size.
    let pulls = find(&rows, "GET", "manifests", &format!("{REPO}:1.0"));
    assert_eq!(pulls.len(), 2, "pull and copy");
    for r in pulls {
        check_manifest(r, &layout, &single);
        assert_eq!(
            r.attr("docker_content_digest"),
            Some(single.digest.as_str())
        );
    }
    let r = one(&rows, "GET", "manifests", &format!("{REPO}:multi"));
    assert_eq!(
        (r.attr("object"), r.attr("media_type")),
        (Some("index"), Some(index.media_type.as_str()))
    );
    assert_eq!(r.attr("platforms"), Some(platforms.join(",").as_str()));
    assert_eq!(r.attr("docker_content_digest"), Some(index.digest.as_str()));
    assert_eq!(r.attr("bytes"), Some(index.size.to_string().as_str()));
    let mut images = vec![single.clone()];
    for (d, _) in &children {
        let r = one(&rows, "GET", "manifests", &format!("{REPO}@{}", d.digest));
        check_manifest(r, &layout, d);
        images.push(d.clone());
    }
    for img in &images {
        let (config, layers) = layout.image(&img.digest);
        for b in std::iter::once(&config).chain(&layers) {
            let r = one(&rows, "GET", "blobs", &format!("{REPO}@{}", b.digest));
            assert_eq!(r.attr("bytes"), Some(b.size.to_string().as_str()));
            assert_eq!(r.attr("docker_content_digest"), Some(b.digest.as_str()));
            assert_eq!(
                (r.attr("repository"), r.attr("reference")),
                (Some(REPO), Some(b.digest.as_str()))
            );
            // skopeo opens a connection per request: no manifest on it to name the blob.
            assert_eq!(r.attr("object"), Some("blob"));
        }
    }

    // Copy into a second repository: the layer is mounted, not uploaded again.
    let mount = rows
        .iter()
        .find(|r| r.request_type == "POST" && r.attr("mount_from").is_some())
        .expect("a mount");
    assert_eq!(mount.request_resource, COPY);
    assert_eq!(mount.attr("mount_from"), Some(REPO));
    assert_eq!(mount.attr("reference"), Some(layers[0].digest.as_str()));
    assert_eq!(mount.response_code, Some(201));
    let del = one(
        &rows,
        "DELETE",
        "manifests",
        &format!("{COPY}@{}", single.digest),
    );
    assert_eq!(
        (del.response_code, del.response_status.as_str()),
        (Some(202), "ok")
    );

    // Tags, catalog, pings, and the missing tag.
    let tags = one(&rows, "GET", "tags", REPO);
    assert_eq!(tags.response_code, Some(200));
    assert_eq!(
        one(&rows, "GET", "catalog", "_catalog").response_code,
        Some(200)
    );
    let pings = find(&rows, "GET", "ping", "/v2/");
    assert!(pings.len() >= 5, "{pings:#?}");
    assert!(
        pings
            .iter()
            .all(|r| r.attr("api_version") == Some("registry/2.0"))
    );
    let missing = one(&rows, "GET", "manifests", &format!("{REPO}:nosuchtag"));
    assert_eq!(
        (missing.response_code, missing.response_status.as_str()),
        (Some(404), "client_error")
    );
    assert_eq!(missing.attr("error_code"), Some("MANIFEST_UNKNOWN"));
    // HEAD checks before each upload find nothing yet.
    assert!(
        rows.iter()
            .filter(|r| r.request_type == "HEAD" && r.request_resource.starts_with(REPO))
            .any(|r| r.response_code == Some(404))
    );
}

/// Prints the registry rows of `$WIREHOUSE_OCI_DUMP` (a held-out capture).
#[test]
#[ignore]
fn dump_registry_rows() {
    let Ok(p) = std::env::var("WIREHOUSE_OCI_DUMP") else {
        return;
    };
    for r in convert_rows(Path::new(&p), "oci-dump") {
        if r.l7_protocol != "oci" {
            println!(
                "[{}] {} {}",
                r.l7_protocol, r.request_type, r.request_resource
            );
            continue;
        }
        println!(
            "{} {} {} -> {:?} {} {:?}",
            r.request_type,
            r.endpoint,
            r.request_resource,
            r.response_code,
            r.response_status,
            r.attributes
        );
    }
}
