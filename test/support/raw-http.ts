import { connect, type Socket } from 'node:net';

export type RawResponse = { status: number; headers: Record<string, string>; body: string };

/** Opens a plain TCP connection to a test server, for what an HTTP client library would refuse to send. */
export function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Parses the first HTTP/1.1 response in what a server wrote; undefined until all of it is there. */
export function parseResponse(raw: Buffer): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine = '', ...lines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  const length = Number(headers['content-length'] ?? 0);
  const body = raw.subarray(end + 4);
  if (body.length < length) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body: body.subarray(0, length).toString('utf8') };
}

/** Sends bytes as they are and reads until the server has answered one response (or closed). */
export async function rawRequest(port: number, request: string | Buffer): Promise<RawResponse> {
  const socket = await openSocket(port);
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const done = () => {
      const response = parseResponse(received);
      socket.destroy();
      if (response) resolve(response);
      else reject(new Error(`no HTTP response in ${JSON.stringify(received.subarray(0, 200).toString('latin1'))}`));
    };
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (parseResponse(received)) done();
    });
    socket.on('close', done);
    socket.on('error', () => undefined);
    socket.write(request);
  });
}
