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
    assert_eq!(
        formatted(source),
        "stage \"builder\" from=\"alpine\" {\n    run \"x\"\n}\n"
    );
}

#[test]
fn slashdash_before_line_break_kept() {
    assert_eq!(
        formatted("node foo /-\nnot-a-node bar\n"),
        "node \"foo\" /-\nnot-a-node \"bar\"\n"
    );
    assert_eq!(formatted("/- // why\nnode1\nnode2\n"), "/- // why\nnode1\nnode2\n");
}

#[test]
fn byte_order_mark_and_crlf() {
    assert_eq!(
        formatted("\u{feff}arg A\r\narg B\r\n"),
        "\u{feff}arg \"A\"\narg \"B\"\n"
    );
}

#[test]
fn type_annotations_and_quoted_keys_kept() {
    assert_eq!(
        formatted("(t)node (u8)1 \"my key\"=(s)x\n"),
        "(t)node (u8)1 \"my key\"=(s)\"x\"\n"
    );
}

#[test]
fn spaces_around_equals_removed() {
    assert_eq!(formatted("copy \"a\" to = \"/b\"\n"), "copy \"a\" to=\"/b\"\n");
}

#[test]
fn multiline_string_reindented_under_node() {
    let source = "stage \"a\" {\n  run \"\"\"\n      echo a\n        echo b\n      \"\"\"\n}\n";
    let expected = "stage \"a\" {\n    run \"\"\"\n        echo a\n          echo b\n        \"\"\"\n}\n";
    assert_eq!(formatted(source), expected);
}

#[test]
fn comment_inside_entry_is_not_dropped() {
    // The formatter rebuilds `key=value` from its parts, so a comment inside
    // it would be lost; the comment check must reject the layout instead.
    match format("node key=/* kept */\"v\"\n") {
        Err(FormatError::Unsupported(reason)) => assert!(reason.contains("comment"), "{reason}"),
        Ok(text) => assert!(text.contains("/* kept */"), "{text}"),
        Err(error) => panic!("{error:?}"),
    }
}

#[test]
fn crlf_in_comments_and_multiline_strings() {
    let source = "/* a\r\n b */\r\nstage \"a\" {\r\n    run \"\"\"\r\n        x\r\n        \"\"\"\r\n}\r\n";
    let text = formatted(source);
    assert!(!text.contains('\r'), "{text:?}");
    assert_eq!(
        text,
        "/* a\n b */\nstage \"a\" {\n    run \"\"\"\n        x\n        \"\"\"\n}\n"
    );
}
