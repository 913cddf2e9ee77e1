//! KDL v2 numbers as the `kdl` crate 6.7 reads them: a decimal with a
//! fraction or an exponent is a float, anything else an integer that must
//! fit in an `i128`. The integer, fraction and exponent digits of a float
//! must each fit in an `i128` too, or the crate rejects the number.

use super::ValueKind;
use super::cursor::{Cursor, Fail, Step};

impl Cursor<'_> {
    /// `number := hex | octal | binary | decimal`
    pub(super) fn number(&mut self) -> Step<ValueKind> {
        match self.float() {
            Err(Fail::Backtrack) => {}
            other => return other,
        }
        self.integer()
    }

    /// Skips `digit (digit | '_')*` for the digits that `is_digit` accepts
    /// and returns the digits without underscores.
    fn digits(&mut self, is_digit: fn(u8) -> bool) -> Option<String> {
        let bytes = self.src.as_bytes();
        if !bytes.get(self.pos).is_some_and(|&byte| is_digit(byte)) {
            return None;
        }
        let mut digits = String::new();
        while let Some(&byte) = bytes.get(self.pos) {
            if is_digit(byte) {
                digits.push(byte as char);
            } else if byte != b'_' {
                break;
            }
            self.pos += 1;
        }
        Some(digits)
    }

    /// `integer := digit (digit | '_')*` with its value, which must fit in
    /// an `i128`.
    fn unsigned_decimal(&mut self) -> Step<i128> {
        let start = self.pos;
        let digits = self.digits(|byte| byte.is_ascii_digit()).ok_or(Fail::Backtrack)?;
        digits.parse::<i128>().map_err(|_| {
            self.pos = start;
            Fail::Backtrack
        })
    }

    /// Returns true for a `-` sign, after skipping an optional sign.
    fn sign(&mut self) -> bool {
        match self.peek_byte() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        }
    }

    fn signed_decimal(&mut self) -> Step<i128> {
        let start = self.pos;
        let negative = self.sign();
        match self.unsigned_decimal() {
            Ok(value) if negative => Ok(-value),
            Ok(value) => Ok(value),
            Err(fail) => {
                self.pos = start;
                Err(fail)
            }
        }
    }

    /// Reads digits that must be there, as after `.` or `e` in a float.
    fn required_digits(&mut self) -> Step<()> {
        let at = self.pos;
        self.unsigned_decimal().map(|_| ()).map_err(|_| Fail::Cut(at))
    }

    /// `decimal := sign? integer ('.' integer)? exponent?` with a fraction or
    /// an exponent.
    fn float(&mut self) -> Step<ValueKind> {
        let start = self.pos;
        self.signed_decimal()?;

        let mut is_float = false;
        if self.eat(".") {
            self.required_digits()?;
            is_float = true;
        }
        if matches!(self.peek_byte(), Some(b'e' | b'E')) {
            self.pos += 1;
            self.sign();
            self.required_digits()?;
            is_float = true;
        }
        if !is_float {
            self.pos = start;
            return Err(Fail::Backtrack);
        }

        self.expect_value_terminator()?;
        let text: String = self.src[start..self.pos].chars().filter(|&c| c != '_').collect();
        text.parse::<f64>().map(ValueKind::Float).map_err(|_| {
            self.pos = start;
            Fail::Backtrack
        })
    }

    /// `hex | octal | binary | decimal` integers.
    fn integer(&mut self) -> Step<ValueKind> {
        let start = self.pos;
        let negative = self.sign();
        let radix = if self.eat("0x") || self.eat("0X") {
            16
        } else if self.eat("0o") || self.eat("0O") {
            8
        } else if self.eat("0b") || self.eat("0B") {
            2
        } else {
            self.pos = start;
            let value = self.signed_decimal()?;
            self.expect_value_terminator()?;
            return Ok(ValueKind::Integer(value));
        };

        let is_digit: fn(u8) -> bool = match radix {
            16 => |byte| byte.is_ascii_hexdigit(),
            8 => |byte| matches!(byte, b'0'..=b'7'),
            _ => |byte| matches!(byte, b'0' | b'1'),
        };
        let Some(digits) = self.digits(is_digit) else {
            return Err(Fail::Cut(self.pos));
        };
        let Ok(magnitude) = i128::from_str_radix(&digits, radix) else {
            // The crate rejects a binary number that does not fit, and reads
            // the `0` of a hex or octal one as a decimal that the `x` or `o`
            // does not terminate.
            return Err(Fail::Cut(start));
        };
        self.expect_value_terminator()?;
        Ok(ValueKind::Integer(if negative { -magnitude } else { magnitude }))
    }
}
