// A minimal gRPC-Web client for the test harness (Node side, no CORS): frames a
// protobuf body, reads the data and trailer frames back. Only what the tests need:
// string and varint fields.

/** Encodes `{fieldNumber: string}` as a protobuf message (all fields length-delimited). */
export function encodeStrings(fields) {
  const parts = [];
  for (const [num, value] of Object.entries(fields)) {
    const bytes = Buffer.from(String(value), "utf8");
    parts.push(varint((Number(num) << 3) | 2), varint(bytes.length), bytes);
  }
  return Buffer.concat(parts);
}

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

/** Decodes a protobuf message into `Map<fieldNumber, value[]>` (Buffers and BigInts). */
export function decode(buf) {
  const fields = new Map();
  let i = 0;
  const readVarint = () => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[i++];
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(readVarint());
    const num = key >> 3;
    const type = key & 7;
    let value;
    if (type === 0) value = readVarint();
    else if (type === 2) {
      const len = Number(readVarint());
      value = buf.subarray(i, i + len);
      i += len;
    } else if (type === 1) {
      value = buf.subarray(i, i + 8);
      i += 8;
    } else if (type === 5) {
      value = buf.subarray(i, i + 4);
      i += 4;
    } else throw new Error(`unsupported wire type ${type}`);
    if (!fields.has(num)) fields.set(num, []);
    fields.get(num).push(value);
  }
  return fields;
}

/** Splits a gRPC-Web response body into its message and its trailers. */
export function parseFrames(body) {
  let message = null;
  const trailers = {};
  let i = 0;
  while (i + 5 <= body.length) {
    const flag = body[i];
    const len = body.readUInt32BE(i + 1);
    const payload = body.subarray(i + 5, i + 5 + len);
    i += 5 + len;
    if (flag & 0x80) {
      for (const line of payload.toString("latin1").split("\r\n")) {
        const at = line.indexOf(":");
        if (at > 0) trailers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
      }
    } else {
      message = payload;
    }
  }
  return { message, trailers };
}

/**
 * Calls `baseUrl/path` over gRPC-Web (binary). Returns the HTTP response, the gRPC
 * status and message (from headers for trailers-only answers, else from the body)
 * and the response message bytes.
 */
export async function grpcWebCall(baseUrl, path, requestBytes = Buffer.alloc(0), headers = {}) {
  const frame = Buffer.alloc(5 + requestBytes.length);
  frame.writeUInt32BE(requestBytes.length, 1);
  Buffer.from(requestBytes).copy(frame, 5);
  const res = await fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...headers },
    body: frame,
    signal: AbortSignal.timeout(10_000),
  });
  const body = Buffer.from(await res.arrayBuffer());
  const { message, trailers } = parseFrames(body);
  const status = res.headers.get("grpc-status") ?? trailers["grpc-status"];
  const grpcMessage = decodeURIComponent(res.headers.get("grpc-message") ?? trailers["grpc-message"] ?? "");
  return { res, status: status === undefined ? null : Number(status), grpcMessage, message };
}
