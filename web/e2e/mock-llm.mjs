// A scripted OpenAI-compatible streaming model for the browser tests. nanoclaw-mock-llm's
// binary only streams a fixed paced reply (its scripting API is Rust-only), so the browser
// tests use this one: it speaks the same chunk format and picks its reply from a keyword in
// the last user message, so tests running one after another need no shared queue.
import http from 'node:http';

export const HOSTILE = [
  'Hostile answer below.',
  '',
  '<script>window.__pwned = "script"</script>',
  '<img src=x onerror="window.__pwned = \'img\'">',
  '<svg><script>window.__pwned = "svg"</script></svg>',
  '<svg onload="window.__pwned = \'svgload\'"></svg>',
  '<iframe src="javascript:window.__pwned=\'iframe\'"></iframe>',
  '[click me](javascript:window.__pwned=\'link\')',
  '[data link](data:text/html,<script>alert(1)</script>)',
  '![pic](javascript:window.__pwned=\'image\')',
  '<a href="javascript:window.__pwned=\'a\'">raw anchor</a>',
  '<details open ontoggle="window.__pwned=\'toggle\'">x</details>',
  '<style>body{display:none}</style>',
  '',
  'Safe [link](https://example.com/docs).',
  '',
  '```html',
  '<script>window.__pwned = "code"</script>',
  '```',
  'END-OF-HOSTILE',
].join('\n');

function chunk(delta, finish = null) {
  return `data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1700000000, model: 'mock', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}

function usage(p, c) {
  return `data: ${JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion.chunk', created: 1700000000, model: 'mock', choices: [], usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c } })}\n\n`;
}

function textOf(message) {
  if (!message) return '';
  if (typeof message.content === 'string') return message.content;
  if (Array.isArray(message.content)) return message.content.map((p) => p.text || '').join('');
  return '';
}

/** The reply for a request body: { pieces: [delta…], finish, interval } */
function plan(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last = messages[messages.length - 1] || {};
  const lastUser = [...messages].reverse().find((m) => m.role === 'user');
  const said = textOf(lastUser);
  if (last.role === 'tool') {
    let result = textOf(last);
    try {
      const parsed = JSON.parse(result);
      result = parsed.data && parsed.data.result !== undefined ? String(parsed.data.result) : JSON.stringify(parsed.data ?? parsed);
    } catch {
      /* keep the raw text */
    }
    if (said.includes('WRITEFILE')) return text('I wrote `notes/hello.md` for you.');
    if (said.includes('EVILTOOL')) return text('Tool finished: ' + textOf(last));
    return text(`The calculator says **${result}**.`);
  }
  if (said.includes('EVILTOOL')) {
    const args = JSON.stringify({ expression: '<img src=x onerror="window.__pwned=\'tool\'"><script>window.__pwned=1</script>' });
    return {
      pieces: [{ tool_calls: [{ index: 0, id: 'call_evil_1', type: 'function', function: { name: 'calculator', arguments: args } }] }],
      finish: 'tool_calls',
    };
  }
  if (said.includes('CALC')) {
    return {
      pieces: [
        { content: 'Let me calculate that.' },
        { tool_calls: [{ index: 0, id: 'call_calc_1', type: 'function', function: { name: 'calculator', arguments: '' } }] },
        { tool_calls: [{ index: 0, function: { arguments: '{"expression": ' } }] },
        { tool_calls: [{ index: 0, function: { arguments: '"6*7"}' } }] },
      ],
      finish: 'tool_calls',
    };
  }
  if (said.includes('WRITEFILE')) {
    const args = JSON.stringify({ path: 'notes/hello.md', content: '# Hello from the model\n\nWritten by file_write.\n' });
    return {
      pieces: [{ tool_calls: [{ index: 0, id: 'call_write_1', type: 'function', function: { name: 'file_write', arguments: args } }] }],
      finish: 'tool_calls',
    };
  }
  if (said.includes('SLOW')) {
    const pieces = [];
    for (let i = 0; i < 600; i++) pieces.push({ content: `word${i} ` });
    return { pieces, finish: 'stop', interval: 50 };
  }
  if (said.includes('THINK')) {
    return {
      pieces: [{ reasoning_content: 'Considering the question ' }, { reasoning_content: 'carefully.' }, { content: 'Thought it through: **yes**.' }],
      finish: 'stop',
    };
  }
  if (said.includes('HOSTILE')) return text(HOSTILE, 40);
  if (said.includes('BIG')) {
    const pieces = [];
    for (let i = 0; i < 20000; i++) {
      pieces.push({ content: i % 400 === 0 ? `\n\n## Part ${i / 400}\n\n` : i % 97 === 0 ? '\n\n```js\nconst x = 1;\n```\n\n' : `tok${i} ` });
    }
    // ~2,000 tokens a second: a fast model, 10 s in all.
    return { pieces, finish: 'stop', interval: 10, batch: 20 };
  }
  return text(`Hello! You said: ${said}\n\n\`\`\`rust\nfn main() {\n    println!("hi");\n}\n\`\`\`\n`);
}

function text(t, size = 12) {
  const pieces = [];
  for (let i = 0; i < t.length; i += size) pieces.push({ content: t.slice(i, i + size) });
  return { pieces, finish: 'stop' };
}

export function startMockLlm() {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', async () => {
      let body = {};
      try {
        body = JSON.parse(raw);
      } catch {
        /* empty body */
      }
      const lastUser = Array.isArray(body.messages) ? [...body.messages].reverse().find((m) => m.role === 'user') : null;
      if (textOf(lastUser).includes('FAIL')) {
        // A refused request (not retried): the server turns it into an `error` event.
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'mock refuses this prompt', type: 'invalid_request_error' } }));
        return;
      }
      const p = plan(body);
      if (body.stream === false) {
        const content = p.pieces.map((x) => x.content || '').join('');
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ id: 'chatcmpl-mock', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 } }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      let closed = false;
      res.on('close', () => (closed = true));
      const batch = p.batch || 1;
      for (let i = 0; i < p.pieces.length && !closed; i += batch) {
        let out = '';
        for (let j = i; j < Math.min(i + batch, p.pieces.length); j++) {
          const delta = { ...p.pieces[j] };
          if (j === 0) delta.role = 'assistant';
          out += chunk(delta);
        }
        res.write(out);
        if (p.interval) await new Promise((r) => setTimeout(r, p.interval));
      }
      if (closed) return;
      res.write(chunk({}, p.finish));
      res.write(usage(10, p.pieces.length));
      res.end('data: [DONE]\n\n');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}/v1/chat/completions`,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}
