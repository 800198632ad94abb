//! Shards and part files: one command's runs split over array jobs, each
//! shard writing its share as a part file, the parts merged exactly.
//!
//! Shard `i` of `n` runs the run indexes `runs·i/n .. runs·(i+1)/n` (a
//! contiguous block, so that a part needs no run index per record), the
//! same indexes, seeded the same way, that the unsharded command gives
//! them. A part holds integers only (per-run records, counts), never float
//! sums or sketches, so the merge reduces exactly the data the unsharded
//! command reduces, in run order, and prints the same bytes.
//!
//! The file: the line `rehearse-part\n`, then blocks, each a `u32`
//! length (little endian), that many bytes of payload and the first 8
//! bytes of the payload's SHA-256; a block of length 0 ends the file. The
//! payloads, end to end, are one stream of LEB128 varints and byte
//! strings: the header (JSON: kind, format, tool version, the scenario's
//! path, text and digest, seed, runs, shard, options), then what the kind
//! holds, then [`END`]. A truncated or altered file is refused with the
//! block and the byte offset where it stops making sense.

use rehearse_core::event::Outcome;
use std::io::{BufRead, Write};

use sha2::{Digest, Sha256};

/// The part format; a part of another format is refused.
pub const FORMAT: u32 = 1;

/// The outcomes as a part writes them: each its index here.
pub(crate) const OUTCOMES: [Outcome; 4] =
    [Outcome::Committed, Outcome::RolledBack, Outcome::Cancelled, Outcome::Aborted];

/// The file's first line.
pub const MAGIC: &[u8] = b"rehearse-part\n";

/// The value after a part's last record: a reader that ends elsewhere
/// read a different layout.
pub const END: u64 = 0x7265_6865_6172_7365; // "rehearse"

/// Payload bytes per block.
const BLOCK: usize = 1 << 16;

/// One shard of `count`: `index` in `0..count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole: one shard of one.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// `I/N` with `0 <= I < N`.
    ///
    /// # Errors
    /// Not two integers, `N` zero or `I` not below it.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (i, n) = text.split_once('/').ok_or_else(|| format!("`{text}`: expected I/N, e.g. 0/4"))?;
        let index: u64 = i.trim().parse().map_err(|_| format!("`{text}`: the shard index `{i}` is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| format!("`{text}`: the shard count `{n}` is not a number"))?;
        if count == 0 {
            return Err(format!("`{text}`: there must be at least one shard"));
        }
        if index >= count {
            return Err(format!(
                "`{text}`: shard index {index} is not below the shard count {count} (shards 0..{count})"
            ));
        }
        Ok(Shard { index, count })
    }

    /// The run indexes this shard runs out of `runs`.
    pub fn range(self, runs: u64) -> std::ops::Range<u64> {
        let at = |i: u64| (u128::from(runs) * u128::from(i) / u128::from(self.count)) as u64;
        at(self.index)..at(self.index + 1)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Writes a part: values buffered into checksummed blocks.
pub struct PartWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    written: u64,
}

impl<W: Write> PartWriter<W> {
    /// Starts a part with its header.
    ///
    /// # Errors
    /// The writer's.
    pub fn new(mut out: W, header: &serde_json::Value) -> std::io::Result<Self> {
        out.write_all(MAGIC)?;
        let mut w = PartWriter { out, buf: Vec::with_capacity(BLOCK + 16), written: MAGIC.len() as u64 };
        w.bytes(header.to_string().as_bytes())?;
        Ok(w)
    }

    /// An unsigned integer (LEB128).
    ///
    /// # Errors
    /// The writer's.
    pub fn u64(&mut self, mut v: u64) -> std::io::Result<()> {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(byte);
                break;
            }
            self.buf.push(byte | 0x80);
        }
        self.flush_full()
    }

    /// A byte string: its length, then the bytes.
    ///
    /// # Errors
    /// The writer's.
    pub fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.u64(b.len() as u64)?;
        for chunk in b.chunks(BLOCK) {
            self.buf.extend_from_slice(chunk);
            self.flush_full()?;
        }
        Ok(())
    }

    fn flush_full(&mut self) -> std::io::Result<()> {
        while self.buf.len() >= BLOCK {
            let rest = self.buf.split_off(BLOCK);
            self.block()?;
            self.buf = rest;
        }
        Ok(())
    }

    fn block(&mut self) -> std::io::Result<()> {
        let len = u32::try_from(self.buf.len()).expect("blocks are small");
        self.out.write_all(&len.to_le_bytes())?;
        self.out.write_all(&self.buf)?;
        self.out.write_all(&Sha256::digest(&self.buf)[..8])?;
        self.written += 4 + self.buf.len() as u64 + 8;
        self.buf.clear();
        Ok(())
    }

    /// Ends the part ([`END`], the last block, the empty block) and
    /// returns the writer and the bytes written.
    ///
    /// # Errors
    /// The writer's.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        self.u64(END)?;
        if !self.buf.is_empty() {
            self.block()?;
        }
        self.out.write_all(&0u32.to_le_bytes())?;
        self.written += 4;
        self.out.flush()?;
        Ok((self.out, self.written))
    }
}

/// Why a part cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    #[error("not a rehearse part file (it does not begin with `rehearse-part`)")]
    NotAPart,
    #[error("truncated: the file ends inside block {block} (byte {offset}) before the part's end")]
    Truncated { block: u64, offset: u64 },
    #[error("corrupted: block {block} (bytes {offset}..{end}) does not match its checksum")]
    Corrupted { block: u64, offset: u64, end: u64 },
    #[error("corrupted: {what} at byte {offset} of the part's data (block {block})")]
    Malformed { what: String, block: u64, offset: u64 },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads a part's values back, block by block (memory: one block).
pub struct PartReader<R: BufRead> {
    input: R,
    block: Vec<u8>,
    at: usize,
    /// Blocks read, and the file offset of the current block.
    blocks: u64,
    offset: u64,
    next_offset: u64,
    ended: bool,
}

impl<R: BufRead> PartReader<R> {
    /// Checks the first line and reads the header.
    ///
    /// # Errors
    /// Not a part, or a damaged first block.
    pub fn new(mut input: R) -> Result<(Self, serde_json::Value), PartError> {
        let mut magic = vec![0u8; MAGIC.len()];
        input.read_exact(&mut magic).map_err(|_| PartError::NotAPart)?;
        if magic != MAGIC {
            return Err(PartError::NotAPart);
        }
        let mut r = PartReader {
            input,
            block: Vec::new(),
            at: 0,
            blocks: 0,
            offset: 0,
            next_offset: MAGIC.len() as u64,
            ended: false,
        };
        let text = r.bytes()?;
        let header =
            serde_json::from_slice(&text).map_err(|e| r.malformed(&format!("a header that is not JSON ({e})")))?;
        Ok((r, header))
    }

    fn malformed(&self, what: &str) -> PartError {
        PartError::Malformed { what: what.to_string(), block: self.blocks, offset: self.offset + 4 + self.at as u64 }
    }

    /// A malformed-value error at the current place, for the callers'
    /// own checks (a value out of range).
    pub fn error(&self, what: &str) -> PartError {
        self.malformed(what)
    }

    fn next_block(&mut self) -> Result<(), PartError> {
        if self.ended {
            return Err(self.malformed("more data expected past the last block"));
        }
        self.blocks += 1;
        self.offset = self.next_offset;
        let truncated = |s: &Self| PartError::Truncated { block: s.blocks, offset: s.offset };
        let mut len = [0u8; 4];
        self.input.read_exact(&mut len).map_err(|_| truncated(self))?;
        let len = u32::from_le_bytes(len) as usize;
        if len == 0 {
            self.ended = true;
            return Err(self.malformed("the part ends before its last record"));
        }
        if len > BLOCK {
            return Err(PartError::Corrupted { block: self.blocks, offset: self.offset, end: self.offset + 4 });
        }
        self.block.resize(len, 0);
        self.input.read_exact(&mut self.block).map_err(|_| truncated(self))?;
        let mut sum = [0u8; 8];
        self.input.read_exact(&mut sum).map_err(|_| truncated(self))?;
        self.next_offset = self.offset + 4 + len as u64 + 8;
        if Sha256::digest(&self.block)[..8] != sum {
            return Err(PartError::Corrupted { block: self.blocks, offset: self.offset, end: self.next_offset });
        }
        self.at = 0;
        Ok(())
    }

    fn byte(&mut self) -> Result<u8, PartError> {
        while self.at == self.block.len() {
            self.next_block()?;
        }
        self.at += 1;
        Ok(self.block[self.at - 1])
    }

    /// An unsigned integer.
    ///
    /// # Errors
    /// A damaged file, or a varint longer than 64 bits.
    pub fn u64(&mut self) -> Result<u64, PartError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.malformed("an integer longer than 64 bits"))
    }

    /// A length no larger than `max`.
    ///
    /// # Errors
    /// A damaged file, or a larger length.
    pub fn len(&mut self, max: u64, what: &str) -> Result<usize, PartError> {
        let n = self.u64()?;
        if n > max {
            return Err(self.malformed(&format!("{what} {n}, more than the {max} expected")));
        }
        Ok(n as usize)
    }

    /// A byte string.
    ///
    /// # Errors
    /// A damaged file.
    pub fn bytes(&mut self) -> Result<Vec<u8>, PartError> {
        let n = self.len(1 << 32, "a byte string of length")?;
        let mut out = Vec::with_capacity(n.min(BLOCK));
        for _ in 0..n {
            out.push(self.byte()?);
        }
        Ok(out)
    }

    /// Reads [`END`] and the empty block after it; nothing may follow.
    ///
    /// # Errors
    /// Anything else there.
    pub fn finish(mut self) -> Result<(), PartError> {
        if self.u64()? != END {
            return Err(self.malformed("a record where the part should end"));
        }
        if self.at != self.block.len() {
            return Err(self.malformed("data after the part's end"));
        }
        let offset = self.next_offset;
        let mut len = [0u8; 4];
        self.input.read_exact(&mut len).map_err(|_| PartError::Truncated { block: self.blocks + 1, offset })?;
        let mut rest = [0u8; 1];
        if u32::from_le_bytes(len) != 0 || self.input.read(&mut rest)? != 0 {
            return Err(PartError::Malformed {
                what: "data after the part's end".into(),
                block: self.blocks + 1,
                offset,
            });
        }
        Ok(())
    }
}

/// What every part's header says, checked against the other parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// `estimate` or `check`.
    pub kind: String,
    pub format: u32,
    pub tool_version: String,
    pub scenario_path: String,
    pub scenario_text: String,
    pub digest: String,
    pub seed: u64,
    pub runs: u64,
    pub shard: Shard,
    /// The options that change the result, as JSON (the same in every
    /// part).
    pub options: serde_json::Value,
}

impl Header {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind,
            "format": self.format,
            "tool_version": self.tool_version,
            "scenario": { "path": self.scenario_path, "digest": self.digest, "text": self.scenario_text },
            "seed": self.seed,
            "runs": self.runs,
            "shard": { "index": self.shard.index, "count": self.shard.count },
            "options": self.options,
        })
    }

    /// The header of a part.
    ///
    /// # Errors
    /// A field missing or of the wrong type.
    pub fn from_json(v: &serde_json::Value) -> Result<Header, String> {
        let s = |p: &str| v.pointer(p).and_then(|x| x.as_str()).map(str::to_string).ok_or(format!("no `{p}`"));
        let n = |p: &str| v.pointer(p).and_then(serde_json::Value::as_u64).ok_or(format!("no `{p}`"));
        Ok(Header {
            kind: s("/kind")?,
            format: u32::try_from(n("/format")?).map_err(|_| "`/format` too large".to_string())?,
            tool_version: s("/tool_version")?,
            scenario_path: s("/scenario/path")?,
            scenario_text: s("/scenario/text")?,
            digest: s("/scenario/digest")?,
            seed: n("/seed")?,
            runs: n("/runs")?,
            shard: Shard { index: n("/shard/index")?, count: n("/shard/count")? },
            options: v.get("options").cloned().ok_or("no `options`")?,
        })
    }

    /// Why `other` cannot be merged with `self`, if it cannot.
    pub fn mismatch(&self, other: &Header) -> Option<String> {
        let differ = |what: &str, a: &dyn std::fmt::Display, b: &dyn std::fmt::Display| {
            Some(format!("its {what} is {b}, the first part's is {a}"))
        };
        if self.kind != other.kind {
            return differ("kind", &self.kind, &other.kind);
        }
        if self.format != other.format {
            return differ("part format", &self.format, &other.format);
        }
        if self.tool_version != other.tool_version {
            return differ("tool version", &self.tool_version, &other.tool_version);
        }
        if self.digest != other.digest || self.scenario_text != other.scenario_text {
            return differ("scenario digest (another plan)", &self.digest, &other.digest);
        }
        if self.scenario_path != other.scenario_path {
            return differ("scenario path", &self.scenario_path, &other.scenario_path);
        }
        if self.seed != other.seed {
            return differ("seed", &self.seed, &other.seed);
        }
        if self.runs != other.runs {
            return differ("run count", &self.runs, &other.runs);
        }
        if self.shard.count != other.shard.count {
            return differ("shard count", &self.shard.count, &other.shard.count);
        }
        if self.options != other.options {
            return differ("options", &self.options, &other.options);
        }
        None
    }
}

/// Given the shards' headers in the order given, the order to read them
/// in (by shard index), or why they do not make a whole: a duplicated or
/// a missing shard, named.
///
/// # Errors
/// The first duplicated shard, else the missing ones.
pub fn order(shards: &[Shard]) -> Result<Vec<usize>, String> {
    let Some(count) = shards.first().map(|s| s.count) else { return Err("no parts given".into()) };
    let mut by_index: Vec<Option<usize>> = vec![None; usize::try_from(count).unwrap_or(usize::MAX).min(1 << 24)];
    for (k, s) in shards.iter().enumerate() {
        let Some(slot) = by_index.get_mut(s.index as usize) else {
            return Err(format!("shard {s} is not one of 0..{count}"));
        };
        if let Some(first) = slot {
            return Err(format!("shard {s} is given twice (parts {} and {})", *first + 1, k + 1));
        }
        *slot = Some(k);
    }
    let missing: Vec<String> =
        by_index.iter().enumerate().filter(|(_, p)| p.is_none()).map(|(i, _)| format!("{i}/{count}")).collect();
    if !missing.is_empty() {
        let more = if missing.len() > 8 { format!(" and {} more", missing.len() - 8) } else { String::new() };
        return Err(format!(
            "shard{} {}{more} missing: every shard of {count} is needed",
            if missing.len() > 1 { "s" } else { "" },
            missing[..missing.len().min(8)].join(", ")
        ));
    }
    Ok(by_index.into_iter().map(|p| p.expect("checked")).collect())
}

/// Why parts cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: {error}")]
    Part { path: String, error: PartError },
    #[error("{path}: not a part of this kind: {why}")]
    Header { path: String, why: String },
    #[error("{path}: cannot be merged with {first}: {why}")]
    Mismatch { path: String, first: String, why: String },
    #[error("{0}")]
    Shards(String),
    #[error("{path}: cannot read it: {error}")]
    Open { path: String, error: std::io::Error },
}

/// The parts of one sharded command, checked to make a whole: every
/// header agrees, every shard is there once.
#[derive(Debug)]
pub struct Parts {
    /// The first part's header (with its shard).
    pub header: Header,
    /// The parts' paths and shards, in shard order.
    pub in_order: Vec<(std::path::PathBuf, Shard)>,
}

fn open_part(path: &std::path::Path) -> Result<(PartReader<std::io::BufReader<std::fs::File>>, Header), MergeError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|error| MergeError::Open { path: name.clone(), error })?;
    let (r, v) = PartReader::new(std::io::BufReader::with_capacity(1 << 16, file))
        .map_err(|error| MergeError::Part { path: name.clone(), error })?;
    let header = Header::from_json(&v).map_err(|why| MergeError::Header { path: name, why })?;
    Ok((r, header))
}

impl Parts {
    /// Reads every part's header and checks that they make a whole (their
    /// order does not matter).
    ///
    /// # Errors
    /// A part unreadable or of another kind, format, tool version, plan,
    /// seed, run count, shard count or options; a shard duplicated or
    /// missing.
    pub fn open(paths: &[std::path::PathBuf]) -> Result<Parts, MergeError> {
        let mut headers: Vec<Header> = Vec::with_capacity(paths.len());
        for path in paths {
            let (_, h) = open_part(path)?;
            let name = path.display().to_string();
            if h.format != FORMAT {
                return Err(MergeError::Header {
                    path: name,
                    why: format!("a part of format {}; this build reads format {FORMAT}", h.format),
                });
            }
            if let Some(first) = headers.first()
                && let Some(why) = first.mismatch(&h)
            {
                return Err(MergeError::Mismatch { path: name, first: paths[0].display().to_string(), why });
            }
            headers.push(h);
        }
        let shards: Vec<Shard> = headers.iter().map(|h| h.shard).collect();
        let order = order(&shards).map_err(MergeError::Shards)?;
        let header = headers.into_iter().next().ok_or_else(|| MergeError::Shards("no parts given".into()))?;
        Ok(Parts { header, in_order: order.into_iter().map(|k| (paths[k].clone(), shards[k])).collect() })
    }

    /// Reads each part in shard order with `read` (its reader past the
    /// header), one open at a time.
    ///
    /// # Errors
    /// The first part that cannot be read, named.
    pub fn read_each(
        &self,
        mut read: impl FnMut(Shard, PartReader<std::io::BufReader<std::fs::File>>) -> Result<(), PartError>,
    ) -> Result<(), MergeError> {
        for (path, shard) in &self.in_order {
            let (r, h) = open_part(path)?;
            let name = path.display().to_string();
            if h.shard != *shard || self.header.mismatch(&h).is_some() {
                return Err(MergeError::Header { path: name, why: "it changed while the parts were merged".into() });
            }
            read(*shard, r).map_err(|error| MergeError::Part { path: name, error })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_runs_once_in_order() {
        for runs in [0u64, 1, 7, 1000, 1_000_001] {
            for count in [1u64, 2, 3, 4, 8, 13] {
                let mut next = 0;
                for index in 0..count {
                    let r = Shard { index, count }.range(runs);
                    assert_eq!(r.start, next, "{runs} runs, {index}/{count}");
                    next = r.end;
                }
                assert_eq!(next, runs);
            }
        }
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        assert!(Shard::parse("4/4").unwrap_err().contains("not below"));
        assert!(Shard::parse("0/0").is_err() && Shard::parse("x/4").is_err() && Shard::parse("3").is_err());
    }

    #[test]
    fn values_read_back_and_damage_is_found_where_it_is() {
        let header = serde_json::json!({ "kind": "test" });
        let mut w = PartWriter::new(Vec::new(), &header).unwrap();
        let values: Vec<u64> = (0..100_000u64).map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (k % 64)).collect();
        for v in &values {
            w.u64(*v).unwrap();
        }
        w.bytes(b"tail").unwrap();
        let (bytes, written) = w.finish().unwrap();
        assert_eq!(written, bytes.len() as u64);
        let read = |b: &[u8]| -> Result<(Vec<u64>, Vec<u8>), PartError> {
            let (mut r, h) = PartReader::new(b)?;
            assert_eq!(h, header);
            let v = (0..values.len()).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
            let tail = r.bytes()?;
            r.finish()?;
            Ok((v, tail))
        };
        let (v, tail) = read(&bytes).unwrap();
        assert_eq!((v, tail), (values.clone(), b"tail".to_vec()));
        // Cut anywhere past the magic: truncated (or, cut at a block's end,
        // ending early), never a silent success.
        for cut in [MAGIC.len() + 2, 70_000, bytes.len() / 2, bytes.len() - 1, bytes.len() - 4] {
            let e = read(&bytes[..cut]).unwrap_err();
            assert!(matches!(e, PartError::Truncated { .. }), "cut at {cut}: {e}");
        }
        // One bit flipped: the block that holds it, by number and offset.
        let mut bad = bytes.clone();
        bad[100_000] ^= 4;
        match read(&bad).unwrap_err() {
            PartError::Corrupted { block, offset, end } => {
                assert_eq!(block, 2);
                assert!(offset <= 100_000 && 100_000 < end, "{offset}..{end}");
            }
            e => panic!("{e}"),
        }
        let mut more = bytes.clone();
        more.push(0);
        assert!(matches!(read(&more).unwrap_err(), PartError::Malformed { .. }));
        assert!(matches!(read(b"not a part at all").unwrap_err(), PartError::NotAPart));
    }

    #[test]
    fn a_whole_needs_every_shard_once() {
        let s = |index, count| Shard { index, count };
        assert_eq!(order(&[s(2, 3), s(0, 3), s(1, 3)]), Ok(vec![1, 2, 0]));
        assert!(order(&[s(0, 3), s(2, 3)]).unwrap_err().contains("shard 1/3 missing"));
        assert!(order(&[s(0, 2), s(1, 2), s(1, 2)]).unwrap_err().contains("shard 1/2 is given twice"));
    }
}
