//! The Rust types a table column may have, and how each appends to its Arrow builder.

use crate::Kind;
use arrow_array::builder::{
    ArrayBuilder, Float64Builder, Int64Builder, MapBuilder, StringBuilder,
    TimestampMicrosecondBuilder, UInt8Builder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use std::net::IpAddr;
use std::sync::Arc;

/// Microseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From nanoseconds (truncated to microseconds).
    pub fn from_ns(ns: i64) -> Self {
        Self(ns.div_euclid(1000))
    }
}

/// Text of a row: kept inline (no heap allocation) up to 24 bytes, which most method
/// names, query types, host names, attribute keys and values are; longer text lives on
/// the heap like a `String`.
pub type Text = compact_str::CompactString;

/// Protocol extras: string → string pairs, in insertion order.
pub type Attributes = Vec<(Text, Text)>;

/// A Rust type usable as a column: its kind and how it appends to its Arrow builder.
pub trait ColumnValue {
    /// Storage kind.
    const KIND: Kind;
    /// Whether values may be null.
    const NULLABLE: bool = false;
    /// The Arrow builder.
    type Builder: ArrayBuilder;
    /// A builder with room for `cap` values.
    fn builder(cap: usize) -> Self::Builder;
    /// The builder for the next batch, given the one that holds the batch about to be
    /// finished: with room for `cap` values and, for text, for as many bytes as that
    /// batch took, so that a steady flow of batches does not regrow (reallocate and
    /// copy) its value buffers from `cap * 16` bytes every time.
    fn next_builder(_prev: &mut Self::Builder, cap: usize) -> Self::Builder {
        Self::builder(cap)
    }
    /// Appends `v`.
    fn append(b: &mut Self::Builder, v: &Self);
}

macro_rules! primitive {
    ($t:ty, $kind:ident, $b:ty) => {
        impl ColumnValue for $t {
            const KIND: Kind = Kind::$kind;
            type Builder = $b;
            fn builder(cap: usize) -> $b {
                <$b>::with_capacity(cap)
            }
            fn append(b: &mut $b, v: &$t) {
                b.append_value(*v);
            }
        }
        impl ColumnValue for Option<$t> {
            const KIND: Kind = Kind::$kind;
            const NULLABLE: bool = true;
            type Builder = $b;
            fn builder(cap: usize) -> $b {
                <$b>::with_capacity(cap)
            }
            fn append(b: &mut $b, v: &Option<$t>) {
                b.append_option(*v);
            }
        }
    };
}

primitive!(u8, U8, UInt8Builder);
primitive!(u16, U16, UInt16Builder);
primitive!(u32, U32, UInt32Builder);
primitive!(u64, U64, UInt64Builder);
primitive!(i64, I64, Int64Builder);
primitive!(f64, F64, Float64Builder);

impl ColumnValue for Timestamp {
    const KIND: Kind = Kind::Timestamp;
    type Builder = TimestampMicrosecondBuilder;
    fn builder(cap: usize) -> Self::Builder {
        TimestampMicrosecondBuilder::with_capacity(cap).with_timezone("UTC")
    }
    fn append(b: &mut Self::Builder, v: &Self) {
        b.append_value(v.0);
    }
}

fn strings(cap: usize) -> StringBuilder {
    StringBuilder::with_capacity(cap, cap * 16)
}

/// [`strings`] with room for at least the bytes `prev` holds.
fn strings_like(prev: &StringBuilder, cap: usize) -> StringBuilder {
    StringBuilder::with_capacity(cap, prev.values_slice().len().max(cap * 16))
}

/// Text columns: every string-like type appends its `&str` to a `StringBuilder`.
macro_rules! text {
    ($t:ty, $kind:ident) => {
        impl ColumnValue for $t {
            const KIND: Kind = Kind::$kind;
            type Builder = StringBuilder;
            fn builder(cap: usize) -> StringBuilder {
                strings(cap)
            }
            fn next_builder(prev: &mut StringBuilder, cap: usize) -> StringBuilder {
                strings_like(prev, cap)
            }
            fn append(b: &mut StringBuilder, v: &Self) {
                b.append_value(v);
            }
        }
    };
}

text!(String, Str);
text!(Text, Str);
text!(&'static str, LowCardStr);
text!(Arc<str>, LowCardStr);

impl ColumnValue for IpAddr {
    const KIND: Kind = Kind::Ip;
    type Builder = IpBuilder;
    fn builder(cap: usize) -> IpBuilder {
        IpBuilder::over(strings(cap))
    }
    fn next_builder(prev: &mut IpBuilder, cap: usize) -> IpBuilder {
        IpBuilder::over(strings_like(&prev.text, cap))
    }
    fn append(b: &mut IpBuilder, v: &Self) {
        // Rows of one flow come one after another and share their addresses (73 % of
        // `l7_sessions` rows on mix.pcap): the text of the last address is reused.
        if b.last != Some(*v) {
            b.last_text.clear();
            // Formatted without allocating; validated as UTF-8 once here, not per row.
            match v {
                IpAddr::V4(a) => b.last_text.push_str(Ipv4Text::new(a.octets()).as_str()),
                IpAddr::V6(a) => b.last_text.push_str(Ipv6Text::new(a.octets()).as_str()),
            }
            b.last = Some(*v);
        }
        b.text.append_value(&b.last_text);
    }
}

/// The Arrow builder of an address column: a string builder that remembers the text of
/// the last address appended.
#[derive(Debug)]
pub struct IpBuilder {
    text: StringBuilder,
    last: Option<IpAddr>,
    last_text: String,
}

impl IpBuilder {
    /// Appending to `text`, with no address remembered yet.
    fn over(text: StringBuilder) -> Self {
        Self {
            text,
            last: None,
            last_text: String::new(),
        }
    }
}

impl ArrayBuilder for IpBuilder {
    fn len(&self) -> usize {
        self.text.len()
    }
    // The remembered text stays valid across batches: it is the text of `last`.
    fn finish(&mut self) -> arrow_array::ArrayRef {
        ArrayBuilder::finish(&mut self.text)
    }
    fn finish_cloned(&self) -> arrow_array::ArrayRef {
        ArrayBuilder::finish_cloned(&self.text)
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
    fn into_box_any(self: Box<Self>) -> Box<dyn std::any::Any> {
        self
    }
}

/// Dotted-quad text of an IPv4 address, written without `fmt` (same text as
/// `Ipv4Addr`'s `Display`; several times faster on the per-row path).
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Text {
    buf: [u8; 16],
    len: u8,
}

impl Ipv4Text {
    /// The text of `octets`.
    pub fn new(octets: [u8; 4]) -> Self {
        // Each octet's digits and a dot copied whole from a table, then the position
        // moved by their length: no branch per digit (about half the instructions).
        let mut buf = [0u8; 16];
        let mut n = 0;
        for o in octets {
            let (text, len) = OCTET_TEXT[usize::from(o)];
            buf[n..n + 4].copy_from_slice(&text);
            n += usize::from(len);
        }
        Ipv4Text {
            buf,
            // Without the last dot.
            len: n as u8 - 1,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and dots were written.
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// The decimal digits of every octet value followed by a dot, and how many bytes that is.
const OCTET_TEXT: [([u8; 4], u8); 256] = {
    let mut t = [([0u8; 4], 0u8); 256];
    let mut o = 0;
    while o < 256 {
        let (h, d, u) = ((o / 100) as u8, (o / 10 % 10) as u8, (o % 10) as u8);
        t[o] = if o >= 100 {
            ([b'0' + h, b'0' + d, b'0' + u, b'.'], 4)
        } else if o >= 10 {
            ([b'0' + d, b'0' + u, b'.', 0], 3)
        } else {
            ([b'0' + u, b'.', 0, 0], 2)
        };
        o += 1;
    }
    t
};

/// Text of an IPv6 address, written without `fmt`: the same text as `Ipv6Addr`'s
/// `Display` (RFC 5952: lowercase hex without leading zeros, the first longest run of two
/// or more zero groups as `::`, IPv4-mapped addresses as `::ffff:a.b.c.d`) at about a
/// fifth of the instructions.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Text(TextBuf<39>);

impl Ipv6Text {
    /// The text of `octets`.
    pub fn new(octets: [u8; 16]) -> Self {
        let mut t = TextBuf::default();
        let g: [u16; 8] =
            std::array::from_fn(|i| u16::from_be_bytes([octets[2 * i], octets[2 * i + 1]]));
        if g[..5] == [0; 5] && g[5] == 0xffff {
            t.push(b"::ffff:");
            let v4 = Ipv4Text::new([octets[12], octets[13], octets[14], octets[15]]);
            t.push(v4.as_str().as_bytes());
            return Ipv6Text(t);
        }
        // The first longest run of zero groups.
        let (mut best, mut best_len, mut run) = (0, 0, 0);
        for (i, &x) in g.iter().enumerate() {
            run = if x == 0 { run + 1 } else { 0 };
            if run > best_len {
                best_len = run;
                best = i + 1 - run;
            }
        }
        let groups = |t: &mut TextBuf<39>, part: &[u16]| {
            for (i, &x) in part.iter().enumerate() {
                if i > 0 {
                    t.push(b":");
                }
                hex_group(t, x);
            }
        };
        if best_len > 1 {
            groups(&mut t, &g[..best]);
            t.push(b"::");
            groups(&mut t, &g[best + best_len..]);
        } else {
            groups(&mut t, &g);
        }
        Ipv6Text(t)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// One IPv6 group in lowercase hex without leading zeros.
fn hex_group<const N: usize>(t: &mut TextBuf<N>, x: u16) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digits = (4 - x.leading_zeros() as usize / 4).max(1);
    let mut d = [0u8; 4];
    for (i, slot) in d[..digits].iter_mut().enumerate() {
        *slot = DIGITS[usize::from(x >> (4 * (digits - 1 - i)) & 0xf)];
    }
    t.push(&d[..digits]);
}

/// Text of at most `N` bytes built on the stack, without allocating: for short texts
/// written piece by piece on a per-row path (an address, a DNS name) and copied into
/// their column or `Text` once.
#[derive(Debug, Clone, Copy)]
pub struct TextBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Default for TextBuf<N> {
    fn default() -> Self {
        Self {
            buf: [0; N],
            len: 0,
        }
    }
}

impl<const N: usize> TextBuf<N> {
    /// Appends `bytes` whole, or nothing (`false`) when they do not fit. They are
    /// meant to be text: [`as_str`](Self::as_str) gives an empty string when what was
    /// pushed is not UTF-8.
    #[inline]
    pub fn push(&mut self, bytes: &[u8]) -> bool {
        let end = self.len + bytes.len();
        let Some(dst) = self.buf.get_mut(self.len..end) else {
            return false;
        };
        dst.copy_from_slice(bytes);
        self.len = end;
        true
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the first `n` bytes (all when fewer were written).
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    /// The text, validated once here rather than piece by piece.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl<const N: usize> std::fmt::Write for TextBuf<N> {
    #[inline]
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if self.push(s.as_bytes()) {
            Ok(())
        } else {
            Err(std::fmt::Error)
        }
    }
}

/// Decimal text of an unsigned integer, written without `fmt` (same text as `Display`).
#[derive(Debug, Clone, Copy)]
pub struct DecimalText {
    buf: [u8; 20],
    start: u8,
}

impl DecimalText {
    /// The text of `v`.
    pub fn new(v: impl Into<u64>) -> Self {
        let mut v = v.into();
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        DecimalText {
            buf,
            start: i as u8,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits were written.
        std::str::from_utf8(&self.buf[usize::from(self.start)..]).unwrap_or_default()
    }

    /// The text's bytes, for a caller that joins many numbers and validates the whole
    /// once (`as_str` validates each).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[usize::from(self.start)..]
    }
}

impl ColumnValue for Attributes {
    const KIND: Kind = Kind::Map;
    type Builder = MapBuilder<StringBuilder, StringBuilder>;
    fn builder(cap: usize) -> Self::Builder {
        MapBuilder::with_capacity(None, strings(cap), strings(cap), cap)
    }
    fn next_builder(prev: &mut Self::Builder, cap: usize) -> Self::Builder {
        let entries = prev.keys().len().max(cap);
        let keys = strings_like(prev.keys(), entries);
        let values = strings_like(prev.values(), entries);
        MapBuilder::with_capacity(None, keys, values, cap)
    }
    fn append(b: &mut Self::Builder, v: &Self) {
        for (k, val) in v {
            b.keys().append_value(k);
            b.values().append_value(val);
        }
        // Cannot fail: keys and values were appended in pairs.
        let _ = b.append(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn decimal_text_is_display() {
        let mut v = 1u64;
        let mut values = vec![0, 9, 10, 99, 100, 65_535, u64::from(u32::MAX), u64::MAX];
        for _ in 0..200 {
            v = v.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            values.push(v >> (v % 64));
        }
        for v in values {
            assert_eq!(DecimalText::new(v).as_str(), v.to_string());
            assert_eq!(DecimalText::new(v).as_bytes(), v.to_string().as_bytes());
        }
        assert_eq!(DecimalText::new(7u8).as_str(), "7");
    }

    crate::table! {
        /// A table exercising every column type.
        table "every_type" as EveryRow, EveryBuilder;
        time_column time;
        order_by [name];
        columns {
            /// time
            time: Timestamp,
            /// name
            name: String,
            /// kind
            kind: &'static str,
            /// ip
            ip: IpAddr,
            /// optional
            rtt: Option<u64>,
            /// small
            small: u8,
            /// attributes
            attributes: Attributes,
        }
    }

    #[test]
    fn ipv4_text_is_display_text() {
        for a in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 0, 9, 100],
            [1, 22, 203, 4],
        ] {
            let want = std::net::Ipv4Addr::from(a).to_string();
            assert_eq!(Ipv4Text::new(a).as_str(), want);
        }
        // Every octet value in every position.
        for o in 0..=255u8 {
            let a = [o, 255 - o, o / 3, o.wrapping_mul(7)];
            assert_eq!(
                Ipv4Text::new(a).as_str(),
                std::net::Ipv4Addr::from(a).to_string()
            );
        }
    }

    #[test]
    fn ipv6_text_is_display_text() {
        // Addresses whose groups are zero, small or large by a random mask, so that zero
        // runs of every length and position (ties too) come up, and mapped, compatible
        // and all-zero/all-one addresses.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut addrs: Vec<std::net::Ipv6Addr> = [
            "::",
            "::1",
            "1::",
            "::ffff:10.0.0.1",
            "::ffff:0.0.0.0",
            "::10.0.0.1",
            "::fffe:1:2",
            "0:0:0:0:1:ffff:1:2",
            "1:0:0:1:0:0:1:0",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db8::1",
            "fe80::1:0:0:0:1",
            "1:2:3:4:5:6:7:8",
            "1:0:2:0:3:0:4:0",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        for _ in 0..20_000 {
            let (mask, vals) = (next(), next());
            let g: [u16; 8] = std::array::from_fn(|i| match (mask >> (2 * i)) & 3 {
                0 | 1 => 0,
                2 => (vals >> (8 * i)) as u16 & 0xf,
                _ => (vals >> (8 * i)) as u16 | 0x0100 << (i % 8),
            });
            addrs.push(g.into());
        }
        for a in addrs {
            assert_eq!(Ipv6Text::new(a.octets()).as_str(), a.to_string(), "{a:?}");
        }
    }

    #[test]
    fn builder_output_matches_declared_schema() {
        let mut b = EveryBuilder::with_capacity(2);
        // Addresses repeated (their text reused) and changing, both families.
        let ips = [
            "10.0.0.1",
            "10.0.0.1",
            "2001:db8::1",
            "2001:db8::1",
            "10.0.0.1",
        ];
        for i in 0..5u8 {
            b.append(&EveryRow {
                time: Timestamp(1_700_000_000_000_000 + i64::from(i)),
                name: format!("n{i}"),
                kind: "k",
                ip: ips[usize::from(i)].parse().unwrap(),
                rtt: (i > 0).then_some(u64::from(i)),
                small: i,
                attributes: vec![("a".into(), i.to_string().into())],
            });
        }
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 5);
        assert_eq!(batch.schema().as_ref(), &EveryRow::TABLE.arrow_schema());
        let col = batch
            .column(3)
            .as_any()
            .downcast_ref::<arrow_array::StringArray>()
            .unwrap();
        assert_eq!(col.iter().collect::<Vec<_>>(), ips.map(Some));
        assert_eq!(batch.column(4).null_count(), 1);
        assert!(b.is_empty());
        assert_eq!(EveryRow::TABLE.time_index(), 0);
        assert_eq!(EveryRow::TABLE.columns[2].kind, Kind::LowCardStr);
    }

    #[test]
    fn batches_after_the_first_hold_only_their_own_rows() {
        // Long text, then short, then long again: the builder of each batch is sized
        // from the one before (`next_builder`), and must start empty all the same.
        let row = |i: usize, len: usize| EveryRow {
            time: Timestamp(i as i64),
            name: "x".repeat(len) + &i.to_string(),
            kind: "k",
            ip: std::net::Ipv4Addr::from([10, 0, 0, (i / 7) as u8]).into(),
            rtt: None,
            small: 0,
            attributes: (0..i % 4)
                .map(|k| (k.to_string().into(), "v".repeat(len).into()))
                .collect(),
        };
        let mut b = EveryBuilder::with_capacity(4);
        let mut i = 0;
        for (rows, len) in [(50, 300), (3, 1), (70, 200)] {
            let first = i;
            for _ in 0..rows {
                b.append(&row(i, len));
                i += 1;
            }
            let batch = b.finish();
            assert_eq!(batch.num_rows(), rows);
            let names = batch
                .column(1)
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap();
            let maps = batch
                .column(6)
                .as_any()
                .downcast_ref::<arrow_array::MapArray>()
                .unwrap();
            let ips = batch
                .column(3)
                .as_any()
                .downcast_ref::<arrow_array::StringArray>()
                .unwrap();
            for r in 0..rows {
                let want = row(first + r, len);
                assert_eq!(names.value(r), want.name);
                // The same address runs across batch boundaries (rows 49/50, 52/53).
                assert_eq!(ips.value(r), want.ip.to_string());
                assert_eq!(maps.value_length(r) as usize, want.attributes.len());
            }
        }
    }
}
