#!/usr/bin/env bash
# eval-embedder.sh — retrieval quality of an embedder on FOLDOC entries held out of its training
# (the hold-out rule is in scripts/embedder-data.pl): the held-out entries are ingested into a
# collection with the embedder, then for each question the gold entry must be among the top 10
# results of BM25, dense (the embedder) and hybrid (RRF of both) search. Two question sets:
#   term        "What is TERM?" with the entry's own headword
#   paraphrase  "What is SYNONYM?" with the headword replaced by a WordNet synonym (entries whose
#               headword has one)
# Prints recall@10 per set and mode, and writes them to WORK/results.json.
#
# usage: scripts/eval-embedder.sh [MODEL]      (default: default, the shipped embedder)
# environment: RAGTUNE (default build/ragtune), RAGTUNE_WORK (default build/embedder-eval),
#              RAGTUNE_RECIPE_TOY=1 (5 questions per set, for CI), RAGTUNE_EVAL_N (questions
#              per set, default 100; 1181 term and 192 paraphrase questions exist), EVAL_JOBS (3 searches
#              processes at a time)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${RAGTUNE:-build/ragtune}
work=${RAGTUNE_WORK:-build/embedder-eval}
model=${1:-default}
[ -x "$bin" ] || { echo "eval-embedder.sh: $bin not built (make build, or set RAGTUNE)" >&2; exit 1; }
mkdir -p "$work"
perl "$here/embedder-data.pl" eval "$work"
rm -rf "$work/collection"
"$bin" ingest "$work/collection" "$work/docs.jsonl" --embed-model "$model" >&2
: > "$work/hits.tsv"
# one question: its three searches, one line per mode in $work/q/N.tsv
ask() {
    local n=$1 kind=$2 question=$3 gold=$4 mode hit
    for mode in bm25 dense hybrid; do
        hit=0
        if ! "$bin" search "$work/collection" "$question" -k 10 --mode "$mode" --json \
            --embed-model "$model" > "$work/q/$n.$mode.out" 2> "$work/q/$n.err"; then
            echo "eval-embedder.sh: search failed: $(cat "$work/q/$n.err")" >&2
            return 1
        fi
        GOLD="$gold" perl -MJSON::PP -ne 'BEGIN { $f = 0 } $f = 1 if decode_json($_)->{doc_id} eq $ENV{GOLD}; END { exit($f ? 0 : 1) }' \
            "$work/q/$n.$mode.out" && hit=1
        printf '%s\t%s\t%s\t%s\n' "$kind" "$mode" "$hit" "$question" >> "$work/q/$n.tsv"
    done
}
rm -rf "$work/q"
mkdir -p "$work/q"
n=0
while IFS=$'\t' read -r kind question gold; do
    n=$((n + 1))
    ask "$n" "$kind" "$question" "$gold" &
    (( n % ${EVAL_JOBS:-3} == 0 )) && wait
done < "$work/questions.tsv"
wait
for i in $(seq 1 "$n"); do
    [ -f "$work/q/$i.tsv" ] || { echo "eval-embedder.sh: question $i failed" >&2; exit 1; }
    cat "$work/q/$i.tsv" >> "$work/hits.tsv"
done
perl -e '
    my %n; my %h;
    open(my $f, "<", $ARGV[0]) or die;
    while (<$f>) { chomp; my ($k, $m, $hit) = split /\t/; $n{$k}{$m}++; $h{$k}{$m} += $hit; }
    my @json;
    printf "%-11s %5s %9s %9s %9s\n", "questions", "n", "bm25", "dense", "hybrid";
    for my $k (qw(term paraphrase)) {
        next unless $n{$k};
        my @r = map { 100 * $h{$k}{$_} / $n{$k}{$_} } qw(bm25 dense hybrid);
        printf "%-11s %5d %8.1f%% %8.1f%% %8.1f%%\n", $k, $n{$k}{bm25}, @r;
        push @json, sprintf("\"%s\":{\"n\":%d,\"bm25\":%.4f,\"dense\":%.4f,\"hybrid\":%.4f}", $k,
                            $n{$k}{bm25}, map { $_ / 100 } @r);
    }
    open(my $o, ">", $ARGV[1]) or die;
    print $o "{\"model\":\"$ARGV[2]\",\"metric\":\"recall\@10\",", join(",", @json), "}\n";
' "$work/hits.tsv" "$work/results.json" "$model"
