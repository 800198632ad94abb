//! Reading and writing a record in exactly the canonical form serde_json
//! gives it
//! (`{"seq":..,"at":..,"event":{"kind":"..",..}}`, fields in declaration
//! order, no spaces, strings without escapes): a fast path beside serde's
//! reader, for the stores' and logs' verification, which reads every
//! stored event. It accepts only that form and answers `None` for
//! anything else (fields in another order, spaces, escapes, numbers
//! out of range or with leading zeros, unknown kinds), which the caller
//! then reads through serde: what it accepts it reads exactly as serde
//! does, so a record reads the same either way. Writing, likewise, gives
//! serde_json's bytes or leaves the record to serde.

use serde::Deserialize;
use serde::de::value::{BorrowedStrDeserializer, Error as ValueError};

use super::{Checksum, EventRecord, ScenarioDigest};
use crate::fault::Action;
use crate::time::SimTime;

/// The bytes still to read.
pub(super) struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    /// Consumes `token` if the text goes on with it.
    pub(super) fn eat(&mut self, token: &str) -> Option<()> {
        self.text.as_bytes()[self.at..].starts_with(token.as_bytes()).then(|| self.at += token.len())
    }

    /// A string without escapes or control characters, quotes consumed.
    pub(super) fn string(&mut self) -> Option<&'a str> {
        self.eat("\"")?;
        let rest = &self.text.as_bytes()[self.at..];
        let len = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if rest[len] != b'"' {
            return None;
        }
        let s = &self.text[self.at..self.at + len];
        self.at += len + 1;
        Some(s)
    }

    /// An unsigned integer as serde_json writes it: digits, no leading
    /// zero, no sign, no fraction or exponent, at most `u64::MAX`.
    fn unsigned(&mut self) -> Option<u64> {
        let rest = &self.text.as_bytes()[self.at..];
        let len = rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
        if len == 0 || (len > 1 && rest[0] == b'0') || matches!(rest.get(len), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let mut n: u64 = 0;
        for &d in &rest[..len] {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.at += len;
        Some(n)
    }
}

/// A value read and written in its canonical form.
pub(super) trait Canonical<'a>: Sized {
    fn read(c: &mut Cursor<'a>) -> Option<Self>;

    /// Appends the value as serde_json writes it; `None` (part of it
    /// maybe written) where this does not know how.
    fn write(&self, out: &mut Vec<u8>) -> Option<()>;
}

/// `n` in decimal, as serde_json writes it.
fn write_unsigned(mut n: u64, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

impl<'a> Canonical<'a> for u64 {
    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        c.unsigned()
    }

    fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        write_unsigned(*self, out);
        Some(())
    }
}

impl<'a> Canonical<'a> for u32 {
    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        u32::try_from(c.unsigned()?).ok()
    }

    fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        write_unsigned(u64::from(*self), out);
        Some(())
    }
}

impl<'a> Canonical<'a> for bool {
    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        if c.eat("true").is_some() { Some(true) } else { c.eat("false").map(|()| false) }
    }

    fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
        Some(())
    }
}

impl<'a> Canonical<'a> for &'a str {
    fn read(c: &mut Cursor<'a>) -> Option<Self> {
        c.string()
    }

    /// Only strings serde_json writes as they are (nothing to escape).
    fn write(&self, out: &mut Vec<u8>) -> Option<()> {
        if self.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
            return None;
        }
        out.push(b'"');
        out.extend_from_slice(self.as_bytes());
        out.push(b'"');
        Some(())
    }
}

/// Values written as strings: read by their own `Deserialize` from the
/// string; written by `$write` (`None`: left to serde).
macro_rules! from_string {
    ($($ty:ty => $write:expr),* $(,)?) => {$(
        impl<'a> Canonical<'a> for $ty {
            fn read(c: &mut Cursor<'a>) -> Option<Self> {
                <$ty>::deserialize(BorrowedStrDeserializer::<ValueError>::new(c.string()?)).ok()
            }

            fn write(&self, out: &mut Vec<u8>) -> Option<()> {
                let write: fn(&$ty, &mut Vec<u8>) -> Option<()> = $write;
                write(self, out)
            }
        }
    )*};
}

/// 16 hex digits, quoted, as their `Display` (and serde) gives them.
fn hex(n: u64, out: &mut Vec<u8>) -> Option<()> {
    use std::io::Write;
    write!(out, "\"{n:016x}\"").ok()
}

from_string!(
    Checksum => |c, out| hex(c.0, out),
    ScenarioDigest => |d, out| hex(d.0, out),
    Action => |_, _| None,
    super::Mode => |_, _| None,
    super::Outcome => |_, _| None,
);

impl<'a> EventRecord<&'a str, &'a str> {
    /// Appends the record as serde_json writes it (the canonical form),
    /// for the kinds and names it knows how to: `false`, `out` as it was,
    /// for the others (an enum field, a name to escape), which serde then
    /// writes.
    pub fn write_canonical(&self, out: &mut Vec<u8>) -> bool {
        let start = out.len();
        out.extend_from_slice(b"{\"seq\":");
        write_unsigned(self.seq, out);
        out.extend_from_slice(b",\"at\":");
        write_unsigned(self.at.0, out);
        out.extend_from_slice(b",\"event\":");
        if self.event.write_fields(out).is_none() {
            out.truncate(start);
            return false;
        }
        out.push(b'}');
        true
    }

    /// `text` read as a record in its canonical form, names as strings;
    /// `None` if it is not in that form (serde's reader then says what it
    /// is). A record this reads, serde's reads the same.
    pub fn read_canonical(text: &'a str) -> Option<Self> {
        let mut c = Cursor { text, at: 0 };
        c.eat("{\"seq\":")?;
        let seq = u64::read(&mut c)?;
        c.eat(",\"at\":")?;
        let at = SimTime(u64::read(&mut c)?);
        c.eat(",\"event\":{\"kind\":")?;
        let event = super::Event::read_fields(&mut c)?;
        c.eat("}}")?;
        (c.at == text.len()).then_some(EventRecord { seq, at, event })
    }
}
