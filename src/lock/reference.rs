//! Normalized image references, following the rules of the Go package
//! github.com/distribution/reference (`ParseNormalizedNamed` and
//! `TagNameOnly`) that BuildKit's Dockerfile frontend applies to `FROM`:
//! `golang:1.19` becomes `docker.io/library/golang:1.19`, and a name with
//! neither tag nor digest gets the tag `latest`.

use std::fmt;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPOSITORY_PREFIX: &str = "library/";

/// A fully qualified image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    /// Registry host, with a port when one was given: `docker.io`, `localhost:5000`.
    pub domain: String,
    /// Repository path in the registry: `library/golang`.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:...` of the manifest.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses and normalizes `text`. The error describes the problem in words
    /// that fit after "invalid image reference `text`: ".
    pub fn parse_normalized(text: &str) -> Result<Reference, String> {
        if text.is_empty() {
            return Err("the reference is empty".to_string());
        }
        if is_hex_id(text) {
            return Err("a 64-digit hex image ID cannot be used as a repository name".to_string());
        }

        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (text, None),
        };
        // A `:` after the last `/` starts the tag; one before it belongs to
        // a registry port.
        let last_slash = name.rfind('/').map_or(0, |index| index + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => (&name[..last_slash + colon], Some(&name[last_slash + colon + 1..])),
            None => (name, None),
        };

        let (domain, path) = split_domain(name);
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("repository names must be lowercase".to_string());
        }
        if !path.split('/').all(|component| is_path_component(component)) {
            return Err(format!("`{path}` is not a valid repository path"));
        }
        if !is_domain(&domain) {
            return Err(format!("`{domain}` is not a valid registry host"));
        }
        if let Some(tag) = tag.filter(|tag| !is_tag(tag)) {
            return Err(format!("`{tag}` is not a valid tag"));
        }
        if let Some(digest) = digest.filter(|digest| !is_digest(digest)) {
            return Err(format!("`{digest}` is not a valid digest"));
        }

        let mut reference = Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
        };
        if reference.tag.is_none() && reference.digest.is_none() {
            reference.tag = Some("latest".to_string());
        }
        Ok(reference)
    }

    /// `domain/path`, without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// Returns the reference pinned to `digest`, keeping the tag, as
    /// BuildKit's Dockerfile frontend writes a resolved `FROM`.
    pub fn with_digest(&self, digest: &str) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }
}

/// Splits `name` into registry and path the way Docker does. The first
/// component is a registry when it has a `.` or `:`, is `localhost`, or has
/// an upper-case letter. Otherwise the registry is Docker Hub, where a
/// one-component name is an official image under `library/`.
fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("{OFFICIAL_REPOSITORY_PREFIX}{path}");
    }
    (domain, path)
}

// The grammar of Docker's reference package, matched by hand. Compiling the
// same grammar as regexes took 2.1 of the 4.4 million instructions of a
// `stagec llb` run on the go-web example, as callgrind counted them. Each
// matcher accepts the language of the regex in its comment, which the test
// `matchers_agree_with_regexes` compares on generated strings.

/// `^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`
fn is_path_component(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut index = 0;
    loop {
        let run_start = index;
        while index < bytes.len() && is_lower_alphanumeric(bytes[index]) {
            index += 1;
        }
        if index == run_start {
            return false;
        }
        if index == bytes.len() {
            return true;
        }

        // One separator: `.`, `_`, `__` or any number of `-`.
        index += match bytes[index] {
            b'.' => 1,
            b'_' if bytes.get(index + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => bytes[index..].iter().take_while(|&&byte| byte == b'-').count(),
            _ => return false,
        };
    }
}

/// `^(?:LABEL(?:\.LABEL)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`, where LABEL is
/// `[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?`.
fn is_domain(text: &str) -> bool {
    // Neither a label nor the port has a `:` or `]`, so the host ends at the
    // first `]` of an IPv6 address, or else at the first `:`.
    let (host_is_valid, rest) = match text.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((address, rest)) => (
                !address.is_empty() && address.bytes().all(|byte| byte.is_ascii_hexdigit() || byte == b':'),
                rest,
            ),
            None => return false,
        },
        None => {
            let host_end = text.find(':').unwrap_or(text.len());
            (text[..host_end].split('.').all(is_domain_label), &text[host_end..])
        }
    };
    host_is_valid && (rest.is_empty() || rest.strip_prefix(':').is_some_and(is_decimal))
}

/// `^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$`
fn is_domain_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|&byte| byte.is_ascii_alphanumeric() || byte == b'-')
        }
        _ => false,
    }
}

/// `^[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}$`, Go's ASCII `\w` as Docker writes it.
fn is_tag(text: &str) -> bool {
    let bytes = text.as_bytes();
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_';
    (1..=128).contains(&bytes.len())
        && is_word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&byte| is_word(byte) || byte == b'.' || byte == b'-')
}

/// `^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`
fn is_digest(text: &str) -> bool {
    // The algorithm has no `:`, so the first one starts the hex part.
    let Some((algorithm, hex)) = text.split_once(':') else {
        return false;
    };
    let algorithm_is_valid = algorithm.split(['-', '_', '+', '.']).all(|component| {
        let bytes = component.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_alphabetic) && bytes.iter().all(u8::is_ascii_alphanumeric)
    });
    algorithm_is_valid && hex.len() >= 32 && hex.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// `^[a-f0-9]{64}$`
fn is_hex_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(is_lower_hex)
}

fn is_lower_alphanumeric(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit()
}

fn is_lower_hex(byte: u8) -> bool {
    byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)
}

fn is_decimal(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit())
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_table() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let cases = [
            ("golang:1.19", "docker.io/library/golang:1.19".to_string()),
            ("alpine", "docker.io/library/alpine:latest".to_string()),
            ("docker.io/library/alpine:3", "docker.io/library/alpine:3".to_string()),
            (
                "index.docker.io/library/alpine:3",
                "docker.io/library/alpine:3".to_string(),
            ),
            ("user/app:1", "docker.io/user/app:1".to_string()),
            ("ghcr.io/org/app:v1.2", "ghcr.io/org/app:v1.2".to_string()),
            ("localhost:5000/app", "localhost:5000/app:latest".to_string()),
            ("localhost/app:dev", "localhost/app:dev".to_string()),
            (
                &format!("alpine@{digest}")[..],
                format!("docker.io/library/alpine@{digest}"),
            ),
            (
                &format!("alpine:3@{digest}")[..],
                format!("docker.io/library/alpine:3@{digest}"),
            ),
        ];
        for (text, expected) in cases {
            let reference = Reference::parse_normalized(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(reference.to_string(), expected, "{text}");
        }
    }

    #[test]
    fn invalid_references_rejected() {
        let cases = [
            ("", "empty"),
            ("Alpine:3", "lowercase"),
            ("alpine:3 ", "tag"),
            // Regression: tags are ASCII only, as Go's `\w` in Docker's grammar.
            ("alpine:é", "tag"),
            ("alpine@sha256:12", "digest"),
            ("a//b", "repository path"),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "hex image ID",
            ),
        ];
        for (text, reason) in cases {
            let error = Reference::parse_normalized(text).expect_err(text);
            assert!(error.contains(reason), "{text}: {error}");
        }
    }

    #[test]
    fn repository_drops_tag_and_digest() {
        let reference = Reference::parse_normalized("golang:1.19").expect("valid");
        assert_eq!(reference.repository(), "docker.io/library/golang");
        let pinned = reference.with_digest("sha256:0123456789abcdef0123456789abcdef");
        assert_eq!(
            pinned.to_string(),
            "docker.io/library/golang:1.19@sha256:0123456789abcdef0123456789abcdef"
        );
    }

    /// A small seeded generator, so a failure names a string that repeats.
    struct Strings(u64);

    impl Strings {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }

        /// Returns up to `max_len` pieces of `alphabet`, where a piece now and
        /// then repeats up to 40 times, so separators and long tags occur.
        fn string(&mut self, alphabet: &[&str], max_len: usize) -> String {
            let mut text = String::new();
            for _ in 0..self.below(max_len + 1) {
                let piece = alphabet[self.below(alphabet.len())];
                let repeats = if self.below(8) == 0 { 1 + self.below(40) } else { 1 };
                text.push_str(&piece.repeat(repeats));
            }
            text
        }
    }

    const PIECES: &[&str] = &[
        "a", "f", "g", "z", "A", "F", "Z", "0", "9", "5", ".", "_", "__", "-", "+", ":", "[", "]", "/", "@", " ", "\n",
        "é", "ß", "٣", "\u{212A}", "\u{17F}",
    ];

    fn assert_agree(name: &str, pattern: &str, matcher: fn(&str) -> bool, samples: &[String]) {
        let regex = regex::Regex::new(pattern).expect("valid regex");
        let mut accepted = 0;
        for sample in samples {
            let expected = regex.is_match(sample);
            assert_eq!(matcher(sample), expected, "{name} on {sample:?}");
            accepted += usize::from(expected);
        }
        // The samples must contain matches and non-matches, or the test proves little.
        assert!(
            accepted > samples.len() / 20,
            "{name}: only {accepted} of {} accepted",
            samples.len()
        );
        assert!(accepted < samples.len(), "{name}: every sample accepted");
    }

    /// Samples for one matcher: random strings over `alphabet`, valid strings
    /// from `valid`, and those valid strings with one piece replaced,
    /// inserted or removed.
    fn samples(seed: u64, alphabet: &[&str], max_len: usize, valid: &[&str]) -> Vec<String> {
        let mut strings = Strings(seed);
        let mut samples: Vec<String> = valid.iter().map(|text| text.to_string()).collect();
        for _ in 0..20_000 {
            samples.push(strings.string(alphabet, max_len));
        }
        for _ in 0..20_000 {
            let mut chars: Vec<String> = valid[strings.below(valid.len())].chars().map(String::from).collect();
            for _ in 0..1 + strings.below(3) {
                let at = strings.below(chars.len() + 1);
                let piece = alphabet[strings.below(alphabet.len())].to_string();
                match strings.below(3) {
                    0 if at < chars.len() => chars[at] = piece,
                    1 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => chars.insert(at, piece),
                }
            }
            samples.push(chars.concat());
        }
        samples
    }

    #[test]
    fn matchers_agree_with_regexes() {
        let longest_tag = "v".repeat(128);
        let too_long_tag = "v".repeat(129);
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let hex_id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

        let path_pieces = ["a", "z", "0", "9", ".", "_", "-", "A", "/", ":", "é", " ", "\n"];
        let path_samples = samples(
            1,
            &path_pieces,
            12,
            &["a", "a.b", "a__b", "a---b", "a_b-c.d", "library"],
        );
        assert_agree(
            "path component",
            r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$",
            is_path_component,
            &path_samples,
        );

        let domain_samples = samples(
            2,
            PIECES,
            12,
            &[
                "docker.io",
                "localhost:5000",
                "a-b.c",
                "[::1]:80",
                "[fe80::1]",
                "A.b-9.c:1",
            ],
        );
        assert_agree(
            "domain",
            r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$",
            is_domain,
            &domain_samples,
        );

        let tag_pieces = [
            "a",
            "Z",
            "0",
            "_",
            ".",
            "-",
            "+",
            ":",
            "é",
            "٣",
            "\u{212A}",
            " ",
            "\n",
            "vvvvvvvvvvvvvvvv",
        ];
        let tag_samples = samples(
            3,
            &tag_pieces,
            12,
            &["1.19", "v1.2-rc_3", "_", &longest_tag, &too_long_tag],
        );
        assert_agree("tag", r"^[0-9A-Za-z_][0-9A-Za-z_.-]{0,127}$", is_tag, &tag_samples);

        let digest_pieces = [
            "a",
            "Z",
            "f",
            "0",
            "9",
            "-",
            "_",
            "+",
            ".",
            ":",
            "é",
            "\n",
            "0123456789abcdef",
        ];
        let digest_samples = samples(
            4,
            &digest_pieces,
            10,
            &[digest, "a+b.C-d_e9:0123456789ABCDEF0123456789abcdef"],
        );
        assert_agree(
            "digest",
            r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$",
            is_digest,
            &digest_samples,
        );

        let hex_pieces = ["0", "9", "a", "f", "g", "A", "\n", "0123456789abcdef"];
        let hex_samples = samples(5, &hex_pieces, 8, &[hex_id]);
        assert_agree("hex ID", r"^[a-f0-9]{64}$", is_hex_id, &hex_samples);
    }
}
