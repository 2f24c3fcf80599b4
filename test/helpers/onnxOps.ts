/**
 * The op types of a serialized ONNX model's main graph, read straight from the protobuf
 * (ModelProto.graph = field 7, GraphProto.node = 1, NodeProto.op_type = 4): enough to see what
 * onnxruntime's optimizer left in a model it saved (SessionOptions.optimizedModelFilePath).
 */
export function onnxOpTypes(bytes: Uint8Array): string[] {
  const graph = fieldsOf(bytes).find((f) => f.field === 7)?.bytes;
  if (!graph) throw new Error('no graph in the ONNX model');
  return fieldsOf(graph)
    .filter((f) => f.field === 1 && f.bytes)
    .map((node) => new TextDecoder().decode(fieldsOf(node.bytes!).find((f) => f.field === 4)?.bytes ?? new Uint8Array()));
}

/** Top-level fields of a protobuf message; length-delimited ones with their bytes. */
function fieldsOf(buf: Uint8Array): { field: number; bytes?: Uint8Array }[] {
  const out: { field: number; bytes?: Uint8Array }[] = [];
  let p = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 1; ; shift *= 128) {
      const b = buf[p++];
      v += (b & 0x7f) * shift;
      if (b < 0x80) return v;
    }
  };
  while (p < buf.length) {
    const key = varint();
    const wire = key % 8;
    const field = Math.floor(key / 8);
    if (wire === 0) varint();
    else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else if (wire === 2) {
      const n = varint();
      out.push({ field, bytes: buf.subarray(p, p + n) });
      p += n;
      continue;
    } else throw new Error(`protobuf wire type ${wire} at byte ${p}`);
    out.push({ field });
  }
  return out;
}
