#!/usr/bin/env node
// Reference for ragtune's chat templates: renders the real Jinja chat templates of common
// model families with @huggingface/jinja (the Jinja implementation Hugging Face's JS stack
// uses, with trim_blocks/lstrip_blocks as transformers sets them) over a set of
// conversations, and writes {"templates":{name: source}, "cases":[...], "out":{name:[...]}}.
//
// usage: node chat_template_ref.js OUT.json
'use strict';
const fs = require('fs');
const path = require('path');
const npm = path.join(__dirname, '..', 'npm', 'node_modules');
const { Template } = require(path.join(npm, '@huggingface', 'jinja'));

const cfg = (name) => JSON.parse(fs.readFileSync(
    path.join(npm, '@lenml', 'tokenizer-' + name, 'models', 'tokenizer_config.json'), 'utf8'));

const templates = {
    chatml: "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    qwen2: "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
    qwen3: cfg('qwen3').chat_template,
    llama3: "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
    llama3_always: cfg('llama3').chat_template,
    llama2: "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}",
    zephyr: "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
    gemma: "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}",
};

const cases = [
    [{ role: 'user', content: 'Hello' }],
    [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: '  What is RAG?\n' }],
    [{ role: 'system', content: 'Answer from the context.' }, { role: 'user', content: 'Q1' },
     { role: 'assistant', content: ' RAG is retrieval. ' }, { role: 'user', content: 'Thanks!' }],
    [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Answer.' }],
    [{ role: 'user', content: 'Übersetze: 日本語 😀\ttab' }, { role: 'assistant', content: '\nLine one\nLine two\n' },
     { role: 'user', content: 'more' }],
];

const out = {};
for (const [name, src] of Object.entries(templates)) {
    const t = new Template(src);
    out[name] = [];
    for (const msgs of cases) {
        for (const gen of [false, true]) {
            try {
                out[name].push(t.render({ messages: msgs, add_generation_prompt: gen,
                    bos_token: '<BOS>', eos_token: '<EOS>' }));
            } catch (e) {
                out[name].push(null);
            }
        }
    }
}
fs.writeFileSync(process.argv[2], JSON.stringify({ templates, cases, out }));
