/**
 * Which execution provider onnxruntime placed each node on, read from onnxruntime's own
 * verbose log (session_state.cc "Node placements"), which it writes only to the process's
 * stderr: a check runs its sessions in a child process started with ANYAD_ORT_LOG=verbose,
 * giving each session it wants counted a log id (createSession's `logId`), which onnxruntime
 * prints in every line of that session — so lines of other sessions, and text written to
 * stderr in between, cannot be mistaken for it.
 *
 * The log has one block per session:
 *   … [V:onnxruntime:detect, session_state.cc:1377 VerifyEachNodeIsAssignedToAnEp] Node placements
 *   … [V:onnxruntime:detect, session_state.cc:1380 VerifyEachNodeIsAssignedToAnEp]  All nodes placed on [WebGpuExecutionProvider]. Number of nodes: 827
 * or, when the nodes are split,
 *   … VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 4
 *   … VerifyEachNodeIsAssignedToAnEp]   Sum (encoder/fused/Sum_890)
 *   … VerifyEachNodeIsAssignedToAnEp]  Node(s) placed on [WebGpuExecutionProvider]. Number of nodes: 827
 *   …
 */

const CPU_EP = 'CPUExecutionProvider';
const TAG = 'VerifyEachNodeIsAssignedToAnEp]';
const LINE = /\[\w:onnxruntime:([^,\]]*), session_state\.cc:\d+ VerifyEachNodeIsAssignedToAnEp\](.*)$/;

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
  return line.includes(TAG);
}

/** The placement of each session that has a log id, by log id (the first block of each id). */
export function parsePlacements(log: string): Map<string, Placement> {
  const out = new Map<string, Placement>();
  const open = new Map<string, { p: Placement; ep?: string }>();
  for (const line of log.split('\n')) {
    const m = LINE.exec(line);
    if (!m || m[1] === '') continue;
    const [, id, body] = m;
    if (/^\s*Node placements/.test(body)) {
      if (out.has(id)) {
        open.delete(id);
        continue;
      }
      const p: Placement = { byProvider: {}, cpuNodes: [] };
      out.set(id, p);
      open.set(id, { p });
      continue;
    }
    const cur = open.get(id);
    if (!cur) continue;
    const hit = /(?:All nodes|Node\(s\)) placed on \[(\w+)\]\. Number of nodes: (\d+)/.exec(body);
    if (hit) {
      cur.ep = hit[1];
      cur.p.byProvider[cur.ep] = (cur.p.byProvider[cur.ep] ?? 0) + Number(hit[2]);
      continue;
    }
    const node = /^\s+(\S+) \((.*)\)\s*$/.exec(body);
    if (node && cur.ep === CPU_EP) cur.p.cpuNodes.push({ op: node[1], name: node[2] });
  }
  return out;
}

/** "4 (3 Sum, 1 Sub)": a count with the op types, for messages. */
export function describeCpuNodes(p: Placement): string {
  const byOp = new Map<string, number>();
  for (const n of p.cpuNodes) byOp.set(n.op, (byOp.get(n.op) ?? 0) + 1);
  const ops = [...byOp]
    .sort((a, b) => b[1] - a[1])
    .map(([op, n]) => `${n} ${op}`)
    .join(', ');
  return `${cpuNodeCount(p)}${ops ? ` (${ops})` : ''}`;
}
