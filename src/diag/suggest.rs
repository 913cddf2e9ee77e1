//! "Did you mean" suggestions with a capped edit distance.

/// Returns the candidate closest to `name`, if it is close enough to be a
/// plausible typo: at most one edit for short names, up to a third of the
/// name's length for longer ones. A case-only difference always matches.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let max_distance = (name.chars().count() / 3).max(1);
    let lowered = name.to_lowercase();

    candidates
        .into_iter()
        .filter(|candidate| *candidate != name)
        .map(|candidate| {
            let distance = if candidate.to_lowercase() == lowered {
                0
            } else {
                levenshtein(&lowered, &candidate.to_lowercase())
            };
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= max_distance)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Edit distance where a swap of two neighbouring characters counts as one
/// edit (optimal string alignment), since `bulid` for `build` is the typical typo.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];

    for i in 0..=a.len() {
        table[i * width] = i;
    }
    for j in 0..=b.len() {
        table[j] = j;
    }

    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[(i - 1) * width + j] + 1)
                .min(table[i * width + j - 1] + 1)
                .min(table[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[(i - 2) * width + j - 2] + 1);
            }
            table[i * width + j] = best;
        }
    }

    table[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposition_is_one_edit() {
        assert_eq!(levenshtein("bulid", "build"), 1);
    }

    #[test]
    fn suggestion_table() {
        let stages = ["builder", "runtime", "test"];
        let cases = [
            ("bulider", Some("builder")),
            ("Builder", Some("builder")),
            ("runtim", Some("runtime")),
            ("tset", Some("test")),
            ("deploy", None),
            ("x", None),
        ];
        for (input, expected) in cases {
            assert_eq!(did_you_mean(input, stages), expected, "input {input}");
        }
    }
}
