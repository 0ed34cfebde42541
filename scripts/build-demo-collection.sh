#!/usr/bin/env bash
# Builds the demo collection from FOLDOC, the Free On-line Dictionary of Computing that Debian's
# dict-foldoc package ships (/usr/share/dictd/foldoc.dict.dz), reproducibly: the same package
# version gives the same foldoc.jsonl (one {"id","text","metadata"} record per entry, in file
# order; metadata.title is the first headword (an entry may have several, e.g. "compiler-compiler"
# and "compiler compiler"; the id joins them), metadata.category the first tag of the entry, e.g. "language") and the same
# collection contents. The text is the entry as a reader sees it: FOLDOC's markup is removed
# ({cross references} keep their words, {(URL)} links and <subject tags> go, the latter staying
# in metadata.category, and so do the (YYYY-MM-DD) edit dates), the way a user prepares a
# dictionary dump before ingesting it.
#
# usage: scripts/build-demo-collection.sh [OUT_DIR] [RAGTUNE_BINARY] [-- extra ingest options]
#   OUT_DIR defaults to demo/foldoc; the collection goes to OUT_DIR/collection.
set -euo pipefail
out=${1:-demo/foldoc}
bin=${2:-build/ragtune}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
dict=${FOLDOC_DICT:-/usr/share/dictd/foldoc.dict.dz}
[ -r "$dict" ] || { echo "build-demo-collection: $dict not found (apt-get install dict-foldoc)" >&2; exit 1; }
[ -x "$bin" ] || { echo "build-demo-collection: $bin not built (make build)" >&2; exit 1; }
mkdir -p "$out"
jsonl="$out/foldoc.jsonl"
# dictd format (parsed with perl, which every Debian system has): a headword at column 0 after a blank line, the body indented by spaces.
zcat "$dict" | perl -ne '
    BEGIN { %seen = (); }
    sub esc { my $s = shift; $s =~ s/\\/\\\\/g; $s =~ s/"/\\"/g; $s =~ s/[\x00-\x1f]/ /g; $s }
    sub flush {
        if ($head ne "" && $head !~ /^00-?database/ && $body =~ /\S/) {
            $body =~ s/\s+$//;
            my $cat = $body =~ /^<([^>,]*)/ ? $1 : "";
            my $id = $head; $seen{$head}++; $id .= " #" . $seen{$head} if $seen{$head} > 1;
            my $clean = $body;
            $clean =~ s/\{\(?(?:https?|ftp|mailto|news):[^}]*\}//g; # {(http://...)} links
            $clean =~ s/\{([^}]*)\}/$1/g;                          # {cross reference}
            $clean =~ s/<[^>\n]*>\s*//g;                           # <subject, tags>
            $clean =~ s/[ \t]+\(\d{4}-\d{2}-\d{2}\)//g;            # (2001-05-14) edit dates
            my $text = esc($head) . "\\n\\n" . join("\\n", map { esc($_) } split(/\n/, $clean));
            printf "{\"id\":\"foldoc:%s\",\"text\":\"%s\",\"metadata\":{\"source\":\"foldoc\",\"title\":\"%s\",\"category\":\"%s\"}}\n",
                esc($id), $text, esc($title), esc($cat);
        }
        $head = ""; $body = "";
    }
    chomp; s/\r$//;
    if ($_ eq "") { $blank = 1; $inhead = 0; $body .= "\n" if $body ne ""; next; }
    if (/^\S/ && ($blank || $. == 1) && !$inhead) { flush(); $head = $_; $title = $_; $inhead = 1; $blank = 0; next; }
    if (/^\S/ && $inhead) { $head .= " " . $_; next; }
    $inhead = 0; $blank = 0;
    (my $line = $_) =~ s/^\s+//;
    if ($body eq "" || $body =~ /\n$/) { $body .= $line; } else { $body .= " " . $line; }
    END { flush(); }
' > "$jsonl.tmp"
mv "$jsonl.tmp" "$jsonl"
echo "build-demo-collection: $(wc -l < "$jsonl") entries, $(du -m "$jsonl" | cut -f1) MB in $jsonl" >&2
rm -rf "$out/collection"
"$bin" ingest "$out/collection" "$jsonl" "$@"
"$bin" stats "$out/collection"
