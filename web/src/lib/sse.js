// Server-Sent Events over fetch: EventSource cannot POST a JSON body or send the
// Authorization header. Reads the body stream, splits it into events on blank lines and
// calls onEvent(name, data) with the parsed JSON of each `data:` field.

export async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let name = '';
  let data = [];
  const dispatch = () => {
    if (data.length) {
      const raw = data.join('\n');
      let parsed;
      try {
        parsed = JSON.parse(raw);
      } catch {
        throw new Error('The server sent a malformed event.');
      }
      onEvent(name || 'message', parsed);
    }
    name = '';
    data = [];
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      let line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') dispatch();
      else if (line.startsWith(':')) continue;
      else if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
  buffer += decoder.decode();
  if (buffer.trim() !== '') {
    for (const line of buffer.split('\n')) {
      if (line.startsWith('event:')) name = line.slice(6).trim();
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
  dispatch();
}
