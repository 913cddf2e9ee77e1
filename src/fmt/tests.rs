use super::*;

fn formatted(source: &str) -> String {
    match format(source) {
        Ok(text) => text,
        Err(error) => panic!("format failed: {error:?}\n{source}"),
    }
}

#[test]
fn reindents_and_quotes() {
    let source = "stage builder from=alpine {\n  run \"x\"\n}\n";
    assert_eq!(formatted(source), "stage \"builder\" from=\"alpine\" {\n    run \"x\"\n}\n");
}
