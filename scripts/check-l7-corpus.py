#!/usr/bin/env python3
"""Compares wirehouse's l7_sessions with other projects' expected results in the corpus.

- suricata-verify: every `checks:` filter of a test.yaml whose event_type is http, dns or
  tls (Suricata 8 form where a check is version-dependent) becomes a predicate over our
  rows; the number of our rows that satisfy it must equal the filter's `count`.
- zeek baselines (scripts.base.protocols.{http,dns,ssl}.*): the multiset of
  (method, host, uri, status) of http.log, (query, qtype, rcode) of dns.log and
  (server_name, version) of ssl.log must equal ours for the same trace.

Usage: check-l7-corpus.py WIREHOUSE CORPUS [--protocols http,dns,tls] [-v] [--only NAME]
Differences listed in KNOWN (with the reason) are reported but do not fail the run.
Exit status: 0 when every other comparison agrees, 1 otherwise.
"""

import argparse
import collections
import glob
import ipaddress
import os
import re
import shutil
import subprocess
import sys
import tempfile

import duckdb
import yaml

# Comparisons that differ for a documented reason: name -> reason.
KNOWN = {
    "suricata-verify/decode-teredo-01": "Teredo (IPv6 in UDP/3544) is not decapsulated; the inner HTTP flow stays UDP",
    "suricata-verify/bug-3286-02-linux-evasion": "TCP evasion: an RST with a stale timestamp (ignored by Linux) ends our stream",
    "suricata-verify/bug-3286-03-windows-evasion": "TCP evasion: an RST with a stale timestamp ends our stream",
    "suricata-verify/pgsql/pgsql-upgrade-tls": "TLS after a PostgreSQL SSLRequest: needs the PostgreSQL parser to hand over",
    "suricata-verify/dns/dns-udp-null": "NULL rdata is written as RFC 3597 '\\# len hex', Suricata prints the raw bytes",
    "zeek/Traces/dns-two-responses.pcap:scripts.base.protocols.dns.duplicate-reponses":
        "a response without its query: we take qtype from its question section, zeek leaves it unset",
    "zeek/Traces/dns-txt-multiple.pcap:scripts.base.protocols.dns.multiple-txt-strings":
        "a response without its query: we take qtype from its question section, zeek leaves it unset",
    "zeek/Traces/dns53.pcap:scripts.base.protocols.dns.flip":
        "a response without its query: we take qtype from its question section, zeek leaves it unset",
    "deepflow/flow_generator/kafka/mixed-with-unsupported.pcap":
        "OffsetCommit v8 / Heartbeat v4: the response bytes carry error code 0 (tshark agrees), DeepFlow "
        "prints -2; and we decode the committed topic (orders) where DeepFlow leaves it empty",
    "zeek/Traces/ftp/ftp-invalid-reply-code.pcap:scripts.base.protocols.ftp.ftp-invalid-reply-code":
        "a reply line without a valid code: we pair PASV with it (code null), zeek with the next reply (230)",
    "zeek/Traces/ftp/ftp-missing-reply-code.pcap:scripts.base.protocols.ftp.ftp-missing-reply-code":
        "a reply line without a code: we pair SYST with it (code null), zeek with the next reply (230)",
    "zeek/Traces/ftp/ipv6-multiline-reply.pcap:scripts.base.protocols.ftp.ftp-multiline-reply":
        "zeek pairs an unsolicited 221 with RETR; we keep RETR -> 550 and write the 221 unpaired",
    "zeek/Traces/ftp/fake-long-commands.pcap:scripts.base.protocols.ftp.ftp-max-command-length":
        "a command line over our 8 KiB cap is skipped (its reply written unpaired); zeek's pairing "
        "after it is one reply off (SYST -> 200, PASV -> 215)",
    "zeek/Traces/http/no-version.pcap:scripts.base.protocols.http.no-version":
        "zeek also logs an empty transaction (every field unset) after the HTTP/0.9 exchange",
    "zeek/Traces/http/http_09.pcap:scripts.base.protocols.http.http-09":
        "zeek also logs empty transactions (every field unset) after each HTTP/0.9 exchange",
}

EVENT_PROTO = {"http": "http", "dns": "dns", "tls": "tls"}
# Keys that describe the event (addresses, header flags, Suricata internals) without
# selecting among our rows beyond what the mapped keys do.
IGNORED = re.compile(
    r"^(pcap_cnt|tx_id|flow_id|proto|app_proto|src_ip|dest_ip|src_port|dest_port|event_type"
    r"|dns\.(tx_id|flags|qr|rd|ra|aa|tc|z|version|opcode)"
    r"|http\.(length|tx_id)|tls\.(fingerprint|serial|notbefore|notafter|session_resumed|from_proto)"
    r")$"
)


def attr(row, k):
    for a, v in row["attributes"]:
        if a == k:
            return v
    return None


def answers(row):
    out = []
    for part in (row["response_result"] or "").split("; "):
        f = part.split(" ", 3)
        if len(f) == 4:
            out.append({"rrname": f[0], "rrtype": f[1], "ttl": f[2], "rdata": f[3]})
    return out


SURICATA_TLS = {"TLSv1": "TLS 1.0", "SSLv3": "SSL 3.0", "SSLv2": "SSL 2.0"}


def same(a, b):
    if a is None:
        return False
    a, b = str(a), SURICATA_TLS.get(str(b), str(b))
    # TXT data is written zone-file style ("..."); Suricata prints the bare string.
    if a == b or (len(a) >= 2 and a[0] == a[-1] == '"' and a[1:-1] == b):
        return True
    m = re.match(r"TLS 1\.3 draft-(\d+)$", a)
    if m and b == "TLS 1.3 draft-<16":
        return int(m.group(1)) < 16
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a.rstrip(".").lower() == b.rstrip(".").lower()


def indexed(key, prefix):
    m = re.match(re.escape(prefix) + r"\[(\d+)\]\.(\w+)$", key)
    return (int(m.group(1)), m.group(2)) if m else None


def predicate(key, want):
    """A function row -> bool for one match key, or None when we cannot express it."""
    simple = {
        "http.hostname": lambda r: r["request_domain"],
        "http.url": lambda r: r["request_resource"],
        "http.http_method": lambda r: r["request_type"],
        "http.status": lambda r: r["response_code"],
        "http.protocol": lambda r: r["version"],
        "http.http_user_agent": lambda r: attr(r, "user_agent"),
        "http.http_content_type": lambda r: attr(r, "response_content_type"),
        "http.http_refer": lambda r: attr(r, "referer"),
        "dns.rrname": lambda r: r["request_resource"],
        "dns.rrtype": lambda r: r["request_type"],
        "dns.queries[0].rrname": lambda r: r["request_resource"],
        "dns.queries[0].rrtype": lambda r: r["request_type"],
        "dns.id": lambda r: r["request_id"],
        "dns.rcode": lambda r: (r["response_exception"] or "NOERROR")
        if r["response_code"] is not None
        else None,
        "tls.sni": lambda r: r["request_domain"],
        "tls.version": lambda r: r["version"],  # Suricata's names mapped in same()
        "tls.subject": lambda r: attr(r, "cert_subject"),
        "tls.issuerdn": lambda r: attr(r, "cert_issuer"),
        "tls.ja3.hash": lambda r: attr(r, "ja3_hash"),
        "tls.ja3.string": lambda r: attr(r, "ja3"),
        "tls.ja4": lambda r: attr(r, "ja4"),
    }
    if key in simple:
        get = simple[key]
        return lambda r: same(get(r), want)
    if key == "dns.type":
        if want in ("query", "request"):
            return lambda r: r["request_bytes"] > 0
        if want in ("answer", "response"):
            return lambda r: r["response_code"] is not None
        return None
    ix = indexed(key, "dns.answers")
    if ix:
        i, f = ix
        return lambda r: len(answers(r)) > i and same(answers(r)[i].get(f), want)
    m = re.match(r"dns\.grouped\.(\w+)\[(\d+)\]$", key)
    if m:
        t, i = m.group(1), int(m.group(2))
        return lambda r: (lambda g: len(g) > i and same(g[i], want))(
            [a["rdata"] for a in answers(r) if a["rrtype"] == t]
        )
    ix = indexed(key, "tls.client_alpns")
    if ix:
        i = ix[0]
        return lambda r: (lambda l: len(l) > i and l[i] == want)(
            (attr(r, "alpn_offered") or "").split(",")
        )
    if key == "tls.server_alpns[0]":
        return lambda r: attr(r, "alpn") == want
    return None


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        k = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, k + "."))
        else:
            out[k] = v
    return out


def version_ok(req):
    """Checks are taken in their Suricata 8 form."""
    if not req:
        return True
    if "lt-version" in req and float(str(req["lt-version"]).split(".")[0]) <= 8:
        return False
    if "min-version" in req and float(str(req["min-version"]).split(".")[0]) > 8:
        return False
    return True


def convert(wh, pcap, out, protocols):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [wh, "convert", pcap, "-o", f"parquet:{out}", "-w", "1", "--no-progress", "-q"]
    if protocols:
        # zeek's ssl.log holds DTLS too.
        names = protocols.split(",")
        names += [n for p in names for n in ROWS_OF.get(p, ()) if n not in names]
        cmd += ["--protocols", ",".join(names)]
    subprocess.run(cmd, check=False, capture_output=True)
    files = glob.glob(f"{out}/l7_sessions/**/*.parquet", recursive=True)
    if not files:
        return []
    cur = duckdb.sql(f"SELECT * FROM read_parquet({files!r})")
    cols = cur.columns
    rows = []
    for t in cur.fetchall():
        r = dict(zip(cols, t))
        a = r.get("attributes") or {}
        r["attributes"] = list(a.items()) if isinstance(a, dict) else list(zip(a["key"], a["value"]))
        rows.append(r)
    return rows


def suricata(args, tmp, report):
    base = os.path.join(args.corpus, "suricata-verify", "tests")
    for y in sorted(glob.glob(f"{base}/**/test.yaml", recursive=True)):
        d = os.path.dirname(y)
        name = "suricata-verify/" + os.path.relpath(d, base)
        if args.only and args.only not in name:
            continue
        try:
            spec = yaml.safe_load(open(y)) or {}
        except yaml.YAMLError:
            continue
        if not version_ok(spec.get("requires")):
            continue
        # IPS-mode semantics (a gap blocks the flow) are not a passive monitor's, and
        # HTTP/2 has its own parser (not yet in this build).
        if any("simulate-ips" in str(a) for a in spec.get("args") or []) or "http2" in name:
            continue
        checks = []
        for c in spec.get("checks") or []:
            f = c.get("filter") if isinstance(c, dict) else None
            if not f or not version_ok(f.get("requires")):
                continue
            m = flatten(f.get("match") or {})
            proto = EVENT_PROTO.get(m.get("event_type"))
            if not proto or (args.protocols and proto not in args.protocols.split(",")):
                continue
            preds, unmapped = [], []
            for k, v in m.items():
                if IGNORED.match(k):
                    continue
                p = predicate(k, v)
                (preds.append(p) if p else unmapped.append(k))
            if unmapped:
                report["skipped"].append(f"{name}: {sorted(unmapped)}")
                continue
            checks.append((proto, m, preds, f.get("count"), f.get("min-count")))
        if not checks:
            continue
        pcap = spec.get("pcap")
        pcap = os.path.normpath(os.path.join(d, pcap)) if pcap else None
        if not pcap:
            caps = sorted(glob.glob(f"{d}/*.pcap") + glob.glob(f"{d}/*.pcapng"))
            pcap = caps[0] if caps else None
        if not pcap or not os.path.exists(pcap):
            continue
        rows = convert(args.wirehouse, pcap, tmp, args.protocols)
        for i, (proto, m, preds, count, min_count) in enumerate(checks):
            hits = [r for r in rows if r["l7_protocol"] == proto and all(p(r) for p in preds)]
            response_keys = any(re.match(r"dns\.(rcode|answers|grouped|authorities)", k) for k in m)
            if proto == "dns" and "dns.type" not in m and response_keys:
                n = sum(r["response_code"] is not None for r in hits)
            elif proto == "dns" and "dns.type" not in m:
                # Suricata logs a DNS request and its response as two events.
                n = sum((r["request_bytes"] > 0) + (r["response_code"] is not None) for r in hits)
            else:
                n = len(hits)
            ok = n == count if count is not None else n >= (min_count or 1)
            tag = f"{name}#{i}"
            report["compared"] += 1
            shown = {k: v for k, v in m.items() if not IGNORED.match(k)}
            line = f"{tag}: {shown} expected {count if count is not None else '>=' + str(min_count or 1)}, wirehouse {n}"
            if ok:
                report["agree"] += 1
                if args.verbose:
                    print("ok   " + line)
            elif tag in KNOWN or name in KNOWN:
                report["known"].append(f"{line} — {KNOWN.get(tag) or KNOWN.get(name)}")
            else:
                report["differ"].append(line)


def zeek_log(path):
    fields, rows = None, []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#") and fields:
            rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def zeek_host(h):
    if h in ("-", "(empty)"):
        return ""
    if h.startswith("["):
        return h[1:].split("]")[0]
    if h.count(":") == 1:
        return h.split(":")[0]
    return h


SSL_VERSION = {"TLSv10": "TLS 1.0", "TLSv11": "TLS 1.1", "TLSv12": "TLS 1.2", "TLSv13": "TLS 1.3", "SSLv3": "SSL 3.0",
               "DTLSv10": "DTLS 1.0", "DTLSv12": "DTLS 1.2", "DTLSv13": "DTLS 1.3"}
# zeek's ssl.log holds TLS and DTLS.
ROWS_OF = {"tls": ("tls", "dtls")}


def addresses(out):
    """Every address of the flows wirehouse wrote to `out`."""
    files = glob.glob(f"{out}/flows/**/*.parquet", recursive=True)
    if not files:
        return set()
    return {a for row in duckdb.sql(f"SELECT client_ip, server_ip FROM read_parquet({files!r})").fetchall()
            for a in row}


def baseline_of(args, base, pcap_addresses):
    """The log of `base`'s test (`ssl.log`, or a sibling such as `ssl1_2.log` when the test
    read several traces) whose connections are between this trace's addresses."""
    d, log = os.path.split(base)
    stem = log[:-len(".log")]
    sibs = sorted(x for x in os.listdir(os.path.join(args.corpus, d))
                  if re.fullmatch(rf"{re.escape(stem)}[\w-]*\.log", x))
    for x in [log] + [x for x in sibs if x != log]:
        rows = zeek_log(os.path.join(args.corpus, d, x))
        if all({z.get("id.orig_h"), z.get("id.resp_h")} <= pcap_addresses for z in rows):
            return os.path.join(d, x)
    return None


def zeek(args, tmp, report):
    manifest = os.path.join(args.corpus, "MANIFEST.tsv")
    logs = {"http": "http.log", "dns": "dns.log", "tls": "ssl.log", "ftp": "ftp.log"}
    names = {"http": "http", "dns": "dns", "tls": "ssl", "ftp": "ftp"}
    lines = [l.rstrip("\n").split("\t") for l in open(manifest)]
    # A baseline written from several traces cannot be compared with one of them.
    readers = collections.Counter(e for f in lines if len(f) >= 12
                                  and f[0].startswith("zeek/") for e in set(f[11].split()))
    for f in lines:
        if len(f) < 12 or not f[0].startswith("zeek/"):
            continue
        pcap = os.path.join(args.corpus, f[0])
        for proto, log in logs.items():
            if args.protocols and proto not in args.protocols.split(","):
                continue
            base = [e for e in f[11].split() if e.endswith("/" + log)
                    and f"scripts.base.protocols.{names[proto]}." in e
                    and readers[e] == 1]
            if not base:
                continue
            name = f"{f[0]}:{base[0].split('/')[2]}"
            if args.only and args.only not in name:
                continue
            rows = [r for r in convert(args.wirehouse, pcap, tmp, args.protocols)
                    if r["l7_protocol"] in ROWS_OF.get(proto, (proto,))]
            log = baseline_of(args, base[0], addresses(tmp))
            if log is None:
                continue
            theirs = zeek_log(os.path.join(args.corpus, log))
            if proto == "http":
                t = [(z["method"], zeek_host(z["host"]), z["uri"], z["status_code"]) for z in theirs]
                o = [(r["request_type"] or "-", r["request_domain"], r["request_resource"] or "-",
                      str(r["response_code"]) if r["response_code"] is not None else "-") for r in rows]
            elif proto == "dns":
                # zeek names qtype 255 "*"; it is ANY (RFC 1035, IANA).
                t = [(z["query"], "ANY" if z["qtype_name"] == "*" else z["qtype_name"], z["rcode_name"])
                     for z in theirs]
                o = [(r["request_resource"] or "-", r["request_type"] or "-",
                      (r["response_exception"] or "NOERROR") if r["response_code"] is not None else "-")
                     for r in rows]
            elif proto == "ftp":
                # zeek's ftp.log holds only some commands (data-channel and file ones,
                # failures): each of its (command, reply code) must be one of our rows.
                t = [(z["command"], z["reply_code"]) for z in theirs if z["command"] != "<init>"]
                o = [(r["request_type"] or "-", str(r["response_code"]) if r["response_code"] is not None else "-")
                     for r in rows]
            else:
                t = [(z["server_name"], SSL_VERSION.get(z["version"], z["version"])) for z in theirs]
                o = [(r["request_domain"] or "-", r["version"] or "-") for r in rows]
            # Zeek writes status 0 for an HTTP/0.9 response (no status line); we write null.
            t = [tuple("" if x in ("-", "(empty)") or (proto == "http" and i == 3 and x == "0") else x
                       for i, x in enumerate(row)) for row in t]
            o = [tuple("" if x == "-" else x for x in row) for row in o]
            ct, co = collections.Counter(t), collections.Counter(o)
            report["compared"] += 1
            if ct == co or (proto == "ftp" and not ct - co):
                report["agree"] += 1
                if args.verbose:
                    print(f"ok   {name}: {len(t)} {proto} transactions")
                continue
            line = (f"{name}: zeek {len(t)} vs wirehouse {len(o)}; only zeek: "
                    f"{list((ct - co).elements())[:4]}; only wirehouse: {list((co - ct).elements())[:4]}")
            if name in KNOWN:
                report["known"].append(f"{line} — {KNOWN[name]}")
            else:
                report["differ"].append(line)


KAFKA = re.compile(r'KafkaInfo \{ msg_type: (\w+), correlation_id: (?:Some\((\d+)\)|None), api_key: (\w+), '
                   r'api_version: (\d+), client_id: "([^"]*)", topic_name: "([^"]*)".*?status_code: (?:Some\((-?\d+)\)|None)')
MONGO = re.compile(r'MongoDBInfo \{ msg_type: (\w+), .*?request_id: (\d+), response_id: \d+, op_code: (\d+)')
MONGO_CODE = re.compile(r'response_code: (-?\d+)')


def deepflow(args, tmp, report):
    """DeepFlow's per-packet Kafka and MongoDB results: each request (id, type, client,
    topic) and each response (id, code) must be one of our rows' halves."""
    base = os.path.join(args.corpus, "deepflow", "flow_generator")
    for proto, sub in (("kafka", "kafka"), ("mongodb", "mongo")):
        if args.protocols and proto not in args.protocols.split(","):
            continue
        for res in sorted(glob.glob(f"{base}/{sub}/*.result")):
            pcap = res[:-len(".result")] + ".pcap"
            name = os.path.relpath(pcap, args.corpus)
            if args.only and args.only not in name or not os.path.exists(pcap):
                continue
            theirs_q, theirs_r = [], []
            for line in open(res, errors="replace"):
                if proto == "kafka" and (m := KAFKA.search(line)):
                    kind, cid, api, ver, client, topic, code = m.groups()
                    if kind == "Request":
                        theirs_q.append((cid, f"{api}_v{ver}", client, topic))
                    else:
                        theirs_r.append((cid, code))
                elif proto == "mongodb" and (m := MONGO.search(line)):
                    kind, rid, _op = m.groups()
                    c = MONGO_CODE.search(line)
                    code = c.group(1) if c else None
                    (theirs_q if kind == "Request" else theirs_r).append(
                        (rid,) if kind == "Request" else (rid, code or "0"))
            rows = [r for r in convert(args.wirehouse, pcap, tmp, args.protocols) if r["l7_protocol"] == proto]
            if proto == "kafka":
                ours_q = [(str(r["request_id"]), r["request_type"], r["request_domain"], r["endpoint"])
                          for r in rows if r["request_bytes"] > 0]
            else:
                ours_q = [(str(r["request_id"]),) for r in rows if r["request_bytes"] > 0]
            # An ok MongoDB reply has no code (null); DeepFlow writes 0.
            ours_r = [(str(r["request_id"]), str(r["response_code"] if r["response_code"] is not None
                                                  or proto != "mongodb" else 0))
                      for r in rows if r["response_bytes"] > 0]
            report["compared"] += 1
            cq, cr = collections.Counter(theirs_q), collections.Counter(theirs_r)
            oq, orr = collections.Counter(ours_q), collections.Counter(ours_r)
            if cq == oq and cr == orr:
                report["agree"] += 1
                if args.verbose:
                    print(f"ok   {name}: {len(theirs_q)} requests, {len(theirs_r)} responses")
                continue
            line = (f"{name}: deepflow {len(theirs_q)}/{len(theirs_r)} vs wirehouse {len(ours_q)}/{len(ours_r)}; "
                    f"only deepflow: {list((cq - oq).elements())[:3]} {list((cr - orr).elements())[:3]}; "
                    f"only wirehouse: {list((oq - cq).elements())[:3]} {list((orr - cr).elements())[:3]}")
            if name in KNOWN:
                report["known"].append(f"{line} — {KNOWN[name]}")
            else:
                report["differ"].append(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("wirehouse")
    ap.add_argument("corpus")
    ap.add_argument("--protocols", default="")
    ap.add_argument("--only", default="")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    report = {"compared": 0, "agree": 0, "differ": [], "known": [], "skipped": []}
    tmp = tempfile.mkdtemp(prefix="wirehouse-l7corpus.")
    try:
        suricata(args, tmp + "/o", report)
        zeek(args, tmp + "/o", report)
        deepflow(args, tmp + "/o", report)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for k in ("known", "differ"):
        for line in report[k]:
            print(f"{k.upper():6} {line}")
    if args.verbose:
        for line in report["skipped"]:
            print(f"SKIP   {line}")
    print(f"l7 corpus: {report['compared']} comparisons, {report['agree']} agree, "
          f"{len(report['known'])} known differences, {len(report['differ'])} unexplained, "
          f"{len(report['skipped'])} checks not expressible")
    return 1 if report["differ"] else 0


if __name__ == "__main__":
    sys.exit(main())
