#!/usr/bin/perl
# embedder-data.pl — the data of the default embedder (models/embedder), built reproducibly from
# dictionaries that Debian ships: training pairs for `ragtune train-embedder` and the held-out
# evaluation set of scripts/eval-embedder.sh. Used by scripts/train-embedder.sh and
# scripts/eval-embedder.sh; not meant to be run by hand.
#
#   embedder-data.pl pairs OUT_DIR   writes OUT_DIR/pairs.jsonl ({"query","positive"}) and
#                                    OUT_DIR/corpus.txt (the passages, for the BPE tokenizer)
#   embedder-data.pl eval OUT_DIR    writes OUT_DIR/docs.jsonl (held-out FOLDOC entries, the
#                                    format of scripts/build-demo-collection.sh) and
#                                    OUT_DIR/questions.tsv (kind, question, doc id)
#
# Sources: WordNet (wordnet-base: lemma <-> gloss, synonym <-> gloss), GCIDE (dict-gcide:
# headword <-> definition), the Jargon File (dict-jargon) and FOLDOC (dict-foldoc), minus the
# FOLDOC hold-out. Linux man pages are never read: they are a reserved evaluation domain.
#
# Hold-out rule (FOLDOC): an entry is held out when the first 8 hex digits of the MD5 of its
# lower-cased headword, read as a number, are divisible by 10 (about 10% of the entries). Held-out
# entries never appear in training, and neither does any pair from another source whose query
# term is a held-out headword, nor any WordNet synset that contains one (so the paraphrased
# evaluation questions, which swap the term for a WordNet synonym, are not taught either).
#
# RAGTUNE_RECIPE_TOY=1 reads the first entries of each source and keeps a few hundred pairs
# and 5 questions per set (CI); RAGTUNE_DICTD and RAGTUNE_WORDNET override
# /usr/share/dictd and /usr/share/wordnet.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my ($mode, $out) = @ARGV;
die "usage: embedder-data.pl pairs|eval OUT_DIR\n" unless $mode && $out && $mode =~ /^(pairs|eval)$/;
my $toy = $ENV{RAGTUNE_RECIPE_TOY} ? 1 : 0;
my $dictd = $ENV{RAGTUNE_DICTD} // '/usr/share/dictd';
my $wndir = $ENV{RAGTUNE_WORDNET} // '/usr/share/wordnet';
for my $f ("$dictd/foldoc.dict.dz", "$dictd/gcide.dict.dz", "$dictd/jargon.dict.dz", "$wndir/data.noun") {
    die "embedder-data: $f not found (scripts/install-deps.sh installs dict-foldoc, dict-gcide, "
      . "dict-jargon and wordnet-base)\n" unless -r $f;
}

sub h32 { hex(substr(md5_hex(join("\t", @_)), 0, 8)) }
sub held_out { h32(lc $_[0]) % 10 == 0 }
sub norm_term { my $t = lc shift; $t =~ s/_/ /g; $t =~ s/\s+/ /g; $t =~ s/^ | $//g; $t }

sub esc {
    my $s = shift;
    $s =~ s/\\/\\\\/g; $s =~ s/"/\\"/g; $s =~ s/\n/\\n/g; $s =~ s/\t/\\t/g; $s =~ s/[\x00-\x1f]/ /g;
    $s;
}

# dictd entries as [headword, body] (the parser of scripts/build-demo-collection.sh: a headword
# at column 0 after a blank line, the body indented; lines of a paragraph joined by spaces).
sub read_dictd {
    my ($file, $limit) = @_;
    open(my $fh, "-|", "zcat", $file) or die "embedder-data: cannot read $file\n";
    my @entries;
    my ($head, $body, $blank, $inhead) = ("", "", 0, 0);
    my $flush = sub {
        if ($head ne "" && $head !~ /^00-?database/ && $body =~ /\S/) {
            $body =~ s/\s+$//;
            push @entries, [$head, $body];
        }
        $head = ""; $body = "";
    };
    while (my $l = <$fh>) {
        chomp $l; $l =~ s/\r$//;
        if ($l eq "") { $blank = 1; $inhead = 0; $body .= "\n" if $body ne ""; next; }
        if ($l =~ /^\S/ && ($blank || $. == 1) && !$inhead) {
            $flush->();
            last if $limit && @entries >= $limit;
            $head = $l; $inhead = 1; $blank = 0; next;
        }
        if ($l =~ /^\S/ && $inhead) { $head .= " " . $l; next; }
        $inhead = 0; $blank = 0;
        (my $line = $l) =~ s/^\s+//;
        if ($body eq "" || $body =~ /\n$/) { $body .= $line; } else { $body .= " " . $line; }
    }
    $flush->();
    close $fh;
    return @entries;
}

# Questions a user might type about a term, chosen by hash (deterministic).
my @templates = ("What is %s?", "What is %s?", "What is %s?", "%s", "What does %s mean?",
                 "Define %s.", "Explain %s.", "Tell me about %s.", "what is %s", "meaning of %s");
sub question { my ($term, $salt) = @_; sprintf($templates[h32($term, $salt) % @templates], $term) }

my @foldoc = read_dictd("$dictd/foldoc.dict.dz");
my %held;
for my $e (@foldoc) { $held{norm_term($e->[0])} = 1 if held_out($e->[0]); }

# WordNet synsets: [lemmas...], gloss
sub read_wordnet {
    my @syn;
    for my $pos (qw(noun verb adj adv)) {
        open(my $fh, "<", "$wndir/data.$pos") or die "embedder-data: cannot read $wndir/data.$pos\n";
        while (my $l = <$fh>) {
            next if $l =~ /^ /;
            last if $toy && @syn >= 4000 * (1 + ($pos eq "noun"));
            my ($head, $gloss) = split /\s\|\s/, $l, 2;
            next unless defined $gloss;
            my @f = split ' ', $head;
            my $n = hex $f[3];
            my @lemmas;
            for my $i (0 .. $n - 1) {
                (my $w = $f[4 + 2 * $i]) =~ s/\(\w+\)$//;
                $w =~ s/_/ /g;
                push @lemmas, $w;
            }
            $gloss =~ s/\s+$//;
            push @syn, [\@lemmas, $gloss];
        }
        close $fh;
    }
    return @syn;
}

if ($mode eq "eval") {
    # Held-out FOLDOC entries, in file order, and questions about a sample of them.
    my (%seen, %wn, @docs);
    for my $s (read_wordnet()) {
        my @l = map { norm_term($_) } @{$s->[0]};
        next unless @l >= 2;
        for my $w (@l) {
            next if exists $wn{$w};
            my ($other) = grep { $_ ne $w } @l;
            $wn{$w} = $other if defined $other;
        }
    }
    open(my $dj, ">", "$out/docs.jsonl") or die "embedder-data: cannot write $out/docs.jsonl\n";
    my (@term_q, @para_q);
    for my $e (@foldoc) {
        next unless held_out($e->[0]);
        my ($head, $body) = @$e;
        my $id = $head; $seen{$head}++; $id .= " #" . $seen{$head} if $seen{$head} > 1;
        my $cat = $body =~ /^<([^>,]*)/ ? $1 : "";
        print $dj "{\"id\":\"foldoc:" . esc($id) . "\",\"text\":\"" . esc("$head\n\n$body")
          . "\",\"metadata\":{\"source\":\"foldoc\",\"category\":\"" . esc($cat) . "\"}}\n";
        next if $seen{$head} > 1;
        push @term_q, [h32($head, "q"), "term", "What is $head?", "foldoc:$id"];
        my $syn = $wn{norm_term($head)};
        push @para_q, [h32($head, "p"), "paraphrase", "What is $syn?", "foldoc:$id"] if defined $syn;
    }
    close $dj;
    my $n = $toy ? 5 : ($ENV{RAGTUNE_EVAL_N} || 100); # questions per set (the rest are unused)
    open(my $qf, ">", "$out/questions.tsv") or die "embedder-data: cannot write $out/questions.tsv\n";
    for my $set (\@term_q, \@para_q) {
        my @s = sort { $a->[0] <=> $b->[0] } @$set;
        splice(@s, $n) if @s > $n;
        print $qf join("\t", @{$_}[1 .. 3]), "\n" for @s;
    }
    close $qf;
    printf STDERR "embedder-data: %d held-out documents, %d term and %d paraphrase questions (of %d, %d)\n",
      scalar(keys %seen), (@term_q < $n ? scalar @term_q : $n), (@para_q < $n ? scalar @para_q : $n),
      scalar @term_q, scalar @para_q;
    exit 0;
}

# ---- pairs ----
my (@pairs, %count);
sub add_pair {
    my ($src, $q, $p) = @_;
    return if $q !~ /\S/ || $p !~ /\S/;
    push @pairs, [h32($q, $p), $src, $q, $p];
    $count{$src}++;
}
my $cap = $toy ? 120 : 0;
sub capped { my ($src) = @_; $cap && ($count{$src} // 0) >= $cap }

# FOLDOC (training split): two questions per entry.
for my $e (@foldoc) {
    my ($head, $body) = @$e;
    next if held_out($head) || capped("foldoc");
    add_pair("foldoc", question($head, 1), "$head\n\n$body");
    add_pair("foldoc", question($head, 2), "$head\n\n$body") unless $toy;
}
# Jargon File.
for my $e (read_dictd("$dictd/jargon.dict.dz", $toy ? 400 : 0)) {
    my ($head, $body) = @$e;
    next if $held{norm_term($head)} || capped("jargon");
    add_pair("jargon", question($head, 1), "$head\n\n$body");
}
# GCIDE: headword <-> its first definition (pronunciation, etymology and sources removed); a
# deterministic third of the entries.
for my $e (read_dictd("$dictd/gcide.dict.dz", $toy ? 2000 : 0)) {
    my ($line, $body) = @$e;
    my ($head) = $line =~ /^([^\\]+?)\s*\\/;
    next unless defined $head && $head =~ /^[A-Za-z][A-Za-z' -]*$/;
    next if $held{norm_term($head)} || capped("gcide") || h32($head, "gcide") % 3;
    my $def = "$line $body";
    $def =~ s/^[^\\]*\\[^\\]*\\,?\s*//;            # headword and pronunciation
    $def =~ s/\[[^\]]*\]//g;                         # etymology, [1913 Webster]
    $def =~ s/\([^)]*[*"][^)]*\)//g;                  # pronunciations
    $def =~ s/--[A-Z][^.]*\.//g;                     # quotation sources
    $def =~ s/\s+/ /g; $def =~ s/^\s+|\s+$//g;
    $def =~ s/^((?:[a-z]+\.\s*)+)//;                 # part of speech
    $def =~ s/^1\.\s*//;
    $def =~ s/\s2\.\s.*$//;                          # the first sense only
    next if length($def) < 12;
    $def = substr($def, 0, 400);
    add_pair("gcide", question($head, 1), "$head\n\n$def");
}
# WordNet: a lemma <-> its gloss; a synonym <-> the other lemma with the gloss. Synsets with a
# held-out FOLDOC term are skipped; nouns and verbs first, a deterministic half of the rest.
for my $s (read_wordnet()) {
    my ($lemmas, $gloss) = @$s;
    next if grep { $held{norm_term($_)} } @$lemmas;
    next if capped("wordnet");
    next if h32($gloss, "wn") % 2;
    add_pair("wordnet", question($lemmas->[0], 1), $gloss);
    add_pair("wordnet", question($lemmas->[1], 2), "$lemmas->[0]\n\n$gloss") if @$lemmas >= 2;
}

# A fixed order that mixes the sources.
@pairs = sort { $a->[0] <=> $b->[0] || $a->[2] cmp $b->[2] } @pairs;
open(my $pf, ">", "$out/pairs.jsonl") or die "embedder-data: cannot write $out/pairs.jsonl\n";
open(my $cf, ">", "$out/corpus.txt") or die "embedder-data: cannot write $out/corpus.txt\n";
my %done;
for my $p (@pairs) {
    print $pf "{\"query\":\"" . esc($p->[2]) . "\",\"positive\":\"" . esc($p->[3]) . "\"}\n";
    print $cf "$p->[3]\n\n" unless $done{$p->[3]}++;
}
close $pf;
close $cf;
printf STDERR "embedder-data: %d pairs (%s); %d held-out FOLDOC headwords excluded\n", scalar @pairs,
  join(", ", map { "$_ $count{$_}" } sort keys %count), scalar keys %held;
