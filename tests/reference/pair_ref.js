#!/usr/bin/env node
// Reference for rt_tokenizer_encode_pair: encodes pairs of texts with the Hugging Face
// tokenizers library (native Rust build, @anush008/tokenizers), its post-processor's pair
// template and, when MAXLEN > 0, its "longest_first" truncation, and writes per pair one JSON
// object {"ids":[...],"type_ids":[...]}.
//
// usage: node pair_ref.js TOKENIZER.json PAIRS.jsonl OUT.jsonl MAXLEN
//   PAIRS.jsonl: one JSON array [a, b] per line.
//        node pair_ref.js --post TYPE IN.json OUT.json CLS SEP
//   writes IN.json with its post_processor replaced by a BertProcessing or RobertaProcessing
//   (TYPE) over the tokens CLS and SEP.
'use strict';
process.env.RAYON_NUM_THREADS = process.env.RAYON_NUM_THREADS || '1';
process.env.TOKENIZERS_PARALLELISM = 'false';
const fs = require('fs');
const path = require('path');
const npm = path.join(__dirname, '..', 'npm', 'node_modules');
const { Tokenizer } = require(path.join(npm, '@anush008', 'tokenizers'));

function rewritePost(type, inPath, outPath, cls, sep) {
    const tj = JSON.parse(fs.readFileSync(inPath, 'utf8'));
    const id = (t) => {
        const added = (tj.added_tokens || []).find((a) => a.content === t);
        return added ? added.id : tj.model.vocab[t];
    };
    tj.post_processor = { type, sep: [sep, id(sep)], cls: [cls, id(cls)] };
    if (type === 'RobertaProcessing') {
        tj.post_processor.trim_offsets = false;
        tj.post_processor.add_prefix_space = false;
    }
    fs.writeFileSync(outPath, JSON.stringify(tj));
}

async function main() {
    if (process.argv[2] === '--post') {
        const [type, inPath, outPath, cls, sep] = process.argv.slice(3);
        rewritePost(type, inPath, outPath, cls, sep);
        return;
    }
    const [tokPath, pairsPath, outPath, maxLen] = process.argv.slice(2);
    const tok = Tokenizer.fromFile(tokPath);
    const max = parseInt(maxLen, 10);
    if (max > 0) tok.setTruncation(max, { strategy: 'LongestFirst' });
    const pairs = fs.readFileSync(pairsPath, 'utf8').split('\n').filter((l) => l.length > 0)
        .map((l) => JSON.parse(l));
    const out = [];
    for (const [a, b] of pairs) {
        const e = await tok.encode(a, b, { addSpecialTokens: true });
        out.push(JSON.stringify({ ids: e.getIds(), type_ids: e.getTypeIds() }));
    }
    fs.writeFileSync(outPath, out.join('\n') + '\n');
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
