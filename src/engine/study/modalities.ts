/**
 * Sequence names and the 7 modality subsets of the model's 3 input channels.
 * Channel order is [FLAIR, T1, T2] everywhere; ids 1..7 are the reference's combination ids.
 */

import { CHANNELS, type ChannelName, subsetLabel } from '../../shared/vocabulary';

// Sequence and channel names live in the shared vocabulary; re-exported for the engine's callers.
export { SEQUENCES, CHANNELS, type SequenceName, type ChannelName } from '../../shared/vocabulary';

export interface ModalitySubset {
  /** Reference combination id, 1..7. */
  id: number;
  /** Short label used in reports: 'F', 'T1', 'T2', 'F+T1', 'F+T2', 'T1+T2', 'F+T1+T2'. */
  label: string;
  /** Present channels, in channel order. */
  channels: readonly ChannelName[];
  /** keep[c] is true when channel c (0 FLAIR, 1 T1, 2 T2) is present. */
  keep: readonly [boolean, boolean, boolean];
}

function subset(id: number, channels: ChannelName[]): ModalitySubset {
  const keep = CHANNELS.map((c) => channels.includes(c)) as [boolean, boolean, boolean];
  return Object.freeze({ id, label: subsetLabel(channels), channels: Object.freeze([...channels]), keep: Object.freeze(keep) });
}

/** All 7 non-empty subsets, index = id - 1. */
export const MODALITY_SUBSETS: readonly ModalitySubset[] = Object.freeze([
  subset(1, ['flair']),
  subset(2, ['t1']),
  subset(3, ['t2']),
  subset(4, ['flair', 't1']),
  subset(5, ['flair', 't2']),
  subset(6, ['t1', 't2']),
  subset(7, ['flair', 't1', 't2']),
]);

/** The full-modality subset (id 7). */
export const FULL_SUBSET = MODALITY_SUBSETS[6];

/** Looks a subset up by id (1..7); throws RangeError otherwise. */
export function subsetById(id: number): ModalitySubset {
  const s = MODALITY_SUBSETS[id - 1];
  if (!Number.isInteger(id) || !s) throw new RangeError(`modality subset id must be an integer 1..7, got ${id}`);
  return s;
}

/** The subset made of exactly these channels (any order); undefined for the empty set. */
export function subsetOfChannels(channels: Iterable<ChannelName>): ModalitySubset | undefined {
  const set = new Set(channels);
  return MODALITY_SUBSETS.find((s) => s.channels.length === set.size && s.channels.every((c) => set.has(c)));
}
