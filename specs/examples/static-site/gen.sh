#!/bin/sh
# Turn every PAGES/*.txt file into OUT/NAME.html.
#
# Page format, one construct per line:
#   # Title       the page title and its <h1> (first such line only)
#   ## Heading    an <h2>
#   - item        a list item, and consecutive items form one <ul>
#   other text    paragraph text; a blank line ends the paragraph
#
# Every page gets a navigation bar that links all pages, in name order.
# Usage: sh gen.sh PAGES OUT
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: sh gen.sh PAGES OUT" >&2
    exit 2
fi
pages=$1
out=$2

mkdir -p "$out"

# The navigation bar is the same on every page, so build it once.
nav=""
for page in "$pages"/*.txt; do
    # An unmatched glob stays as the literal pattern.
    if [ ! -e "$page" ]; then
        echo "gen.sh: no .txt pages in $pages" >&2
        exit 1
    fi
    name=$(basename "$page" .txt)
    # Page names go into HTML and into awk -v unescaped, so allow only
    # characters that need no escaping in either.
    case $name in
    *[!A-Za-z0-9._-]*)
        echo "gen.sh: invalid page name '$name': use letters, digits, '.', '_' and '-'" >&2
        exit 1
        ;;
    esac
    nav="${nav:+$nav }<a href=\"$name.html\">$name</a>"
done

for page in "$pages"/*.txt; do
    name=$(basename "$page" .txt)
    awk -v nav="$nav" -v name="$name" '
        function escape(text) {
            gsub(/&/, "\\&amp;", text)
            gsub(/</, "\\&lt;", text)
            gsub(/>/, "\\&gt;", text)
            return text
        }
        function close_blocks() {
            if (in_list) { body = body "</ul>\n"; in_list = 0 }
            if (in_para) { body = body "</p>\n"; in_para = 0 }
        }
        /^# / && title == "" {
            close_blocks()
            title = escape(substr($0, 3))
            body = body "<h1>" title "</h1>\n"
            next
        }
        /^## / {
            close_blocks()
            body = body "<h2>" escape(substr($0, 4)) "</h2>\n"
            next
        }
        /^- / {
            if (in_para) { body = body "</p>\n"; in_para = 0 }
            if (!in_list) { body = body "<ul>\n"; in_list = 1 }
            body = body "<li>" escape(substr($0, 3)) "</li>\n"
            next
        }
        /^[ \t]*$/ { close_blocks(); next }
        {
            if (in_list) { body = body "</ul>\n"; in_list = 0 }
            if (!in_para) { body = body "<p>"; in_para = 1 } else { body = body "\n" }
            body = body escape($0)
        }
        END {
            close_blocks()
            if (title == "") title = name
            printf "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            printf "<title>%s</title>\n</head>\n<body>\n<nav>%s</nav>\n%s</body>\n</html>\n", title, nav, body
        }
    ' "$page" >"$out/$name.html"
    echo "gen.sh: wrote $out/$name.html"
done
