/**
 * Which execution provider onnxruntime placed each node on, read from onnxruntime's own
 * verbose log (session_state.cc "Node placements"), which it writes only to the process's
 * stderr: a check runs its sessions in a child process started with ANYAD_ORT_LOG=verbose and
 * writes `PLACEMENT_MARKER label` to stderr before creating each session it wants counted.
 *
 * The log has one block per session:
 *   … VerifyEachNodeIsAssignedToAnEp] Node placements
 *   … VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 827
 * or, when the nodes are split,
 *   … VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 4
 *   … VerifyEachNodeIsAssignedToAnEp]   Sum (encoder/fused/Sum_890)
 *   … VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 827
 *   …
 */

export const PLACEMENT_MARKER = '@@anyad-placement';
const CPU_EP = 'CPUExecutionProvider';
const TAG = 'VerifyEachNodeIsAssignedToAnEp]';

export interface Placement {
  /** Nodes per execution provider, e.g. { WebGpuExecutionProvider: 827, CPUExecutionProvider: 4 }. */
  byProvider: Record<string, number>;
  /** Nodes on the CPU provider (op type and node name). */
  cpuNodes: Array<{ op: string; name: string }>;
}

/** Nodes placed on the CPU provider (0 when everything runs on the device). */
export function cpuNodeCount(p: Placement): number {
  return p.byProvider[CPU_EP] ?? 0;
}

/** Whether a stderr line matters to parsePlacements (a caller streaming a large log keeps only these). */
export function isPlacementLine(line: string): boolean {
  return line.startsWith(PLACEMENT_MARKER) || line.includes(TAG);
}

/**
 * The placement of the first session that reported its placement after each marker, by the
 * marker's label. A label whose session never reported (it failed) is absent.
 */
export function parsePlacements(log: string): Map<string, Placement> {
  const out = new Map<string, Placement>();
  let label: string | undefined;
  let current: Placement | undefined;
  let ep: string | undefined;
  for (const line of log.split('\n')) {
    if (line.startsWith(PLACEMENT_MARKER)) {
      label = line.slice(PLACEMENT_MARKER.length).trim();
      current = undefined;
      continue;
    }
    const at = line.indexOf(TAG);
    if (at < 0) { current = undefined; continue; }
    const body = line.slice(at + TAG.length);
    if (/^\s*Node placements/.test(body)) {
      // A marker labels only the next session's block.
      current = undefined;
      if (label !== undefined && !out.has(label)) { current = { byProvider: {}, cpuNodes: [] }; out.set(label, current); }
      label = undefined;
      ep = undefined;
      continue;
    }
    if (!current) continue;
    const all = /All nodes placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(body);
    const some = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(body);
    const hit = all ?? some;
    if (hit) {
      ep = hit[1];
      current.byProvider[ep] = (current.byProvider[ep] ?? 0) + Number(hit[2]);
      continue;
    }
    const node = /^\s+(\S+) \((.*)\)\s*$/.exec(body);
    if (node && ep === CPU_EP) current.cpuNodes.push({ op: node[1], name: node[2] });
  }
  return out;
}

/** "4 (3 Sum, 1 Sub)": a count with the op types, for messages. */
export function describeCpuNodes(p: Placement): string {
  const byOp = new Map<string, number>();
  for (const n of p.cpuNodes) byOp.set(n.op, (byOp.get(n.op) ?? 0) + 1);
  const ops = [...byOp].sort((a, b) => b[1] - a[1]).map(([op, n]) => `${n} ${op}`).join(', ');
  return `${cpuNodeCount(p)}${ops ? ` (${ops})` : ''}`;
}
