//! Seeded generators of KDL documents for the conformance test: token soup
//! that mostly fails to parse, nested documents that mostly parse, and
//! mutations of real specs.

/// A xorshift generator, so that every run generates the same documents.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Pieces of KDL, valid and invalid, for every rule of the grammar. They
/// cover identifiers and reserved words, whitespace and newlines of each
/// kind, and quoted, raw and multi-line strings with escapes and dedent.
/// They also cover numbers at the edges of `i128`, keywords, comments, line
/// continuations, slashdash, type annotations and disallowed code points.
const FRAGMENTS: &[&str] = &[
    "node",
    "stage",
    "a",
    "b-c",
    "-",
    "+",
    ".",
    "-.",
    "+x",
    ".x",
    "-inf",
    "true",
    "null",
    "x1",
    "é",
    "a.b",
    " ",
    " ",
    " ",
    "  ",
    "\t",
    "\u{a0}",
    "\u{3000}",
    "\n",
    "\n",
    "\r\n",
    "\r",
    "\u{85}",
    "\u{2028}",
    "\u{c}",
    "\u{b}",
    ";",
    "{",
    "}",
    "{",
    "}",
    "=",
    "(",
    ")",
    "(t)",
    "(t) ",
    "( t )",
    "(\"t\")",
    "()",
    "\"s\"",
    "\"\"",
    "\"a b\"",
    "\"\\n\\t\\\\\\\"\"",
    "\"\\u{48}\"",
    "\"\\u{}\"",
    "\"\\u{D800}\"",
    "\"\\q\"",
    "\"a\\\n  b\"",
    "\"\\s\"",
    "\"\u{7f}\"",
    "\"\u{1}\"",
    "\"\"\"\n  x\n  \"\"\"",
    "\"\"\"\n\"\"\"",
    "\"\"\"\n  a\n\n b\n  \"\"\"",
    "\"\"\"\n\t\"x\"\n\t\"\"\"",
    "\"\"\"x\"\"\"",
    "\"\"\"\n  a \\\n  b\n  \"\"\"",
    "#\"r\"#",
    "#\"a\"b\"#",
    "##\"a\"#b\"##",
    "#\"\"#",
    "#\"\"\"#",
    "#\"\"\"\n  raw\n  \"\"\"#",
    "#\"\"\"\n\"\n\"\"\"#",
    "#\"\"\"x\"\"\"#",
    "#\"",
    "##\"x\"#",
    "#true",
    "#false",
    "#null",
    "#inf",
    "#-inf",
    "#nan",
    "#t",
    "#",
    "#truex",
    "0",
    "1",
    "-1",
    "+1",
    "1_000",
    "1.5",
    "-1.5",
    "1e5",
    "1E-5",
    "1.5e+3",
    "1.",
    "1.e5",
    ".5",
    "-.5",
    "0x1F",
    "0X_1",
    "0xg",
    "0o17",
    "0o8",
    "0b101",
    "0b2",
    "0b12",
    "1_.5",
    "1__2",
    "1e",
    "1x",
    "170141183460469231731687303715884105727",
    "170141183460469231731687303715884105728",
    "-170141183460469231731687303715884105727",
    "0x7fffffffffffffffffffffffffffffff",
    "0x80000000000000000000000000000000",
    "1e400",
    "0.1234567890123456789012345678901234567890123",
    "// c\n",
    "//",
    "/* c */",
    "/*/ */",
    "/* /* n */ */",
    "/*",
    "*/",
    "\\\n",
    "\\ // c\n",
    "\\",
    " \\ ",
    "/-",
    "/- ",
    "/-\n",
    "\u{feff}",
    "\u{200e}",
    "\u{0}",
    "[",
    "]",
    "/",
    "\\\\",
    "k=v",
    "k=1",
    "k = \"v\"",
    "\"k\"=#true",
    "k=",
    "=v",
];

/// Concatenates up to 24 random fragments.
pub fn token_soup(rng: &mut Rng) -> String {
    let count = 1 + rng.below(24);
    let mut document = String::new();
    for _ in 0..count {
        document.push_str(rng.pick(FRAGMENTS));
    }
    document
}

/// Builds nodes with arguments, properties, slashdashes and child blocks up
/// to four levels deep.
pub fn nested(rng: &mut Rng, depth: usize) -> String {
    let mut document = String::new();
    for _ in 0..1 + rng.below(4) {
        if rng.below(6) == 0 {
            document.push_str("/-");
            document.push_str(rng.pick(&["", " ", "\n"]));
        }
        if rng.below(8) == 0 {
            document.push_str("(ty)");
        }
        document.push_str(rng.pick(&["node", "\"quoted name\"", "#\"raw\"#", "n-1", "é"]));

        for _ in 0..rng.below(5) {
            document.push_str(rng.pick(&[" ", "  ", "\t", " /* c */ ", " \\\n  "]));
            if rng.below(5) == 0 {
                document.push_str("/-");
                document.push_str(rng.pick(&["", " ", "\n"]));
            }
            if rng.below(3) == 0 {
                document.push_str(rng.pick(&["k", "\"k 2\"", "from", "#\"r\"#"]));
                document.push_str(rng.pick(&["=", " = ", "= "]));
            }
            if rng.below(8) == 0 {
                document.push_str(rng.pick(&["(t)", "(u8) "]));
            }
            document.push_str(rng.pick(&[
                "1",
                "-2.5",
                "0x10",
                "#true",
                "#null",
                "\"s\"",
                "word",
                "#\"r\\n\"#",
                "1e3",
                "\"\"\"\n  m\n  \"\"\"",
                "-",
                "#nan",
            ]));
        }

        if depth < 4 && rng.below(3) == 0 {
            document.push_str(rng.pick(&[" ", "", " /-{ x }  "]));
            document.push('{');
            document.push_str(rng.pick(&["", "\n", " "]));
            document.push_str(&nested(rng, depth + 1));
            document.push('}');
            if rng.below(4) == 0 {
                document.push_str(" /-{ y }");
            }
        }
        document.push_str(rng.pick(&["\n", ";", " // c\n", "\r\n", "\n\n", " ;\n"]));
    }
    document
}

/// Deletes, replaces or inserts up to three fragments in `base`.
pub fn mutate(rng: &mut Rng, base: &str) -> String {
    let mut chars: Vec<char> = base.chars().collect();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(chars.len() + 1);
        let fragment: Vec<char> = rng.pick(FRAGMENTS).chars().collect();
        match rng.below(3) {
            0 if at < chars.len() => {
                chars.remove(at);
            }
            1 if at < chars.len() => {
                chars.splice(at..at + 1, fragment);
            }
            _ => {
                chars.splice(at..at, fragment);
            }
        }
    }
    chars.into_iter().collect()
}
