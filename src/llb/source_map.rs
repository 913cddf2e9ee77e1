//! Conversion of spec spans to the line and character positions of a
//! `pb.Source` map, which BuildKit attaches to errors of the op.

use super::pb;
use crate::diag::Span;

/// Line starts of a text, for turning byte offsets into positions.
pub(super) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(index, _)| index + 1));
        LineIndex { starts }
    }

    /// Returns the 1-based line and 1-based character (counted in Unicode
    /// scalar values) of byte `offset`, clamped to the text.
    pub fn position(&self, text: &str, offset: usize) -> pb::Position {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let line_start = self.starts[line];
        // A span never starts inside a UTF-8 sequence, but clamp to a char
        // boundary anyway so that a bad span cannot panic.
        let mut end = offset;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let character = text[line_start..end].chars().count() + 1;
        pb::Position {
            line: to_i32(line + 1),
            character: to_i32(character),
        }
    }

    /// Returns the range of `span`: its start, and the position just after its last character.
    pub fn range(&self, text: &str, span: Span) -> pb::Range {
        pb::Range {
            start: Some(self.position(text, span.start)),
            end: Some(self.position(text, span.end())),
        }
    }
}

fn to_i32(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_table() {
        let text = "ab\ncdé\n\nx";
        let index = LineIndex::new(text);
        let cases = [
            (0, 1, 1),
            (1, 1, 2),
            (3, 2, 1),
            (5, 2, 3),
            (7, 2, 4),
            (8, 3, 1),
            (9, 4, 1),
            (100, 4, 2),
        ];
        for (offset, line, character) in cases {
            let position = index.position(text, offset);
            assert_eq!(
                (position.line, position.character),
                (line, character),
                "offset {offset}"
            );
        }
    }
}
